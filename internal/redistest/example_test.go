package redistest_test

import (
	"testing"

	"github.com/clickanon/clickanon/internal/redistest"
)

// A test starts its own server and gets its address; the server is stopped
// when the test ends.
func ExampleStart() {
	var t testing.TB // the *testing.T of a test
	if t == nil {
		return // this example needs a running test
	}
	s := redistest.Start(t, nil)
	reply, err := redistest.Do(s.Addr(), "PING")
	if err != nil || reply != "PONG" {
		t.Fatalf("PING: %q, %v", reply, err)
	}
}
