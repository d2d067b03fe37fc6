package logmask_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// A Writer holds the start of a line until its newline comes, unmasked
// (a line is masked whole): printed with any verb, or logged with slog, it
// shows its policy alone, never that text.
func TestWriterPrintsNoHeldText(t *testing.T) {
	var dst bytes.Buffer
	w, err := logmask.NewWriter(&dst, ipmask.Default, nil)
	require.NoError(t, err)
	_, err = w.Write([]byte("held line start 198.51.100.77")) // no newline: held
	require.NoError(t, err)
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&out, verb+"\n", w)
	}
	slog.New(slog.NewJSONHandler(&out, nil)).Info("debug", "w", w)
	slog.New(slog.NewTextHandler(&out, nil)).Info("debug", "w", w)
	ipmasktest.AssertNoRawIP(t, ipmask.Default, out.Bytes())
	assert.NotContains(t, out.String(), "held line start")
	assert.Contains(t, out.String(), "logmask.Writer("+ipmask.Default.String()+")")
	var zero *logmask.Writer
	assert.Equal(t, "logmask.Writer(nil)", fmt.Sprint(zero))
	require.NoError(t, w.Close())
	assert.Equal(t, "held line start 198.51.100.0", dst.String())
}
