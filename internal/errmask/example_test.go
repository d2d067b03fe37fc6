package errmask_test

import (
	"errors"
	"fmt"
	"net"

	"github.com/clickanon/clickanon/internal/errmask"
)

// A storage method defers Wrap on its named error result: the caller gets
// text without the server's address, in every verb, and can still reach
// the driver's error.
func Example() {
	ping := func() (err error) {
		defer errmask.Wrap(&err)
		return &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 6379}, Err: errors.New("connection refused")}
	}
	err := ping()
	fmt.Println(err)
	fmt.Printf("%#v\n", err)
	var op *net.OpError
	fmt.Println(errors.As(err, &op), op.Op)
	// Output:
	// dial tcp 0.0.0.0:6379: connection refused
	// "dial tcp 0.0.0.0:6379: connection refused"
	// true dial
}
