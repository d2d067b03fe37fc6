package errmask

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

func TestWrap(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 6379}, Err: errors.New("connection refused")}
	err := error(dial)
	Wrap(&err)
	assert.Equal(t, "dial tcp 0.0.0.0:6379: connection refused", err.Error(), "the address is cut to no bits")
	var op *net.OpError
	assert.True(t, errors.As(err, &op), "it unwraps to the driver's error")
	again := err
	Wrap(&again)
	assert.Same(t, err, again, "a masked error is not wrapped twice")

	plain := error(fs.ErrNotExist)
	Wrap(&plain)
	assert.True(t, plain == fs.ErrNotExist, "an error without an address is left as it is")

	var none error
	Wrap(&none)
	assert.NoError(t, none)
}

// replyError is a string-typed error, as go-redis's server replies are.
type replyError string

func (e replyError) Error() string { return string(e) }

// detailed shows its address only in %+v, as errors with details or a
// stack trace do.
type detailed struct{ addr string }

func (e *detailed) Error() string { return "connection lost" }
func (e *detailed) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('+') {
		fmt.Fprintf(f, "connection to %s lost", e.addr)
		return
	}
	io.WriteString(f, e.Error())
}

// plainOnly shows its address only in %v.
type plainOnly struct{ addr string }

func (e plainOnly) Error() string { return "connection lost" }
func (e plainOnly) Format(f fmt.State, verb rune) {
	if verb == 'v' && !f.Flag('+') && !f.Flag('#') {
		fmt.Fprintf(f, "connection to %s lost", e.addr)
		return
	}
	io.WriteString(f, e.Error())
}

// TestWrapEveryVerb wraps errors that name a server and prints them with
// every verb a caller logs an error with: none writes the address.
func TestWrapEveryVerb(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"net.OpError", &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 6379}, Err: errors.New("connection refused")}},
		{"string-typed reply", replyError("MOVED 3999 10.0.0.5:6381")},
		{"address in %+v only", &detailed{addr: "10.0.0.5:5432"}},
		{"address in %v only", plainOnly{addr: "10.0.0.5:5432"}},
		{"joined", errors.Join(errors.New("flush"), replyError("ASK 12 [2001:db8:1:2::7]:6379"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, fmt.Sprintf("%v %+v %#v", tt.err, tt.err, tt.err)), "the error names its server")
			err := tt.err
			Wrap(&err)
			for _, verb := range []string{"%v", "%+v", "%s", "%q", "%#v"} {
				out := fmt.Sprintf(verb, err)
				ipmasktest.AssertNoRawIP(t, ipmask.Default, out, verb)
				assert.NotContains(t, out, "10.0.0.5", verb)
			}
			assert.ErrorIs(t, err, tt.err, "the driver's error stays reachable")
		})
	}
	t.Run("%+v keeps the details", func(t *testing.T) {
		err := error(&detailed{addr: "10.0.0.5:5432"})
		Wrap(&err)
		assert.Equal(t, "connection to 0.0.0.0:5432 lost", fmt.Sprintf("%+v", err))
		assert.Equal(t, "connection lost", err.Error())
		assert.Equal(t, `"connection lost"`, fmt.Sprintf("%q", err))
	})
}
