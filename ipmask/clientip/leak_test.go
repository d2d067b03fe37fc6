package clientip_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// noLeak checks that text holds no address the default policy does not
// mask, and not the input it describes (when that is long enough to be
// told from the message's own words).
func noLeak(t testing.TB, text, input string) {
	t.Helper()
	ipmasktest.AssertNoRawIP(t, ipmask.Default, []byte(text))
	if input = strings.TrimSpace(input); len(input) >= 6 {
		assert.NotContains(t, text, input, "the message quotes its input")
	}
}
