package errmask

import (
	"errors"
	"io/fs"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
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
