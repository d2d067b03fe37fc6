package newcomer_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/retention"
)

// quotedNumberRE is a number (a duration is one) in quotes: %q on a number.
var quotedNumberRE = regexp.MustCompile(`"[-+]?[0-9][0-9.]*[a-zµ]*"`)

// TestErrorsDoNotQuoteNumbers: issue 16 names "%q on numbers in error
// messages" a habit to drop. The constructors that refuse a duration, fed
// durations of every sign and size they refuse, say it without quotes.
func TestErrorsDoNotQuoteNumbers(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{-1, -time.Second, -90 * time.Minute, time.Duration(-1 << 63)} {
		_, err := retention.NewPolicy(d, nil)
		require.Error(t, err)
		assert.NotRegexp(t, quotedNumberRE, err.Error(), "NewPolicy(%v)", d)
		_, err = retention.NewSweeper(retention.Group{}, &retention.SweeperOptions{Interval: d})
		require.Error(t, err)
		assert.NotRegexp(t, quotedNumberRE, err.Error(), "NewSweeper(Interval: %v)", d)
	}
	for _, d := range []time.Duration{retention.MaxWindow + 1, 1<<63 - 1} {
		_, err := retention.NewPolicy(d, nil)
		require.Error(t, err)
		assert.NotRegexp(t, quotedNumberRE, err.Error(), "NewPolicy(%v)", d)
	}
}
