package main

import (
	"os"
	"strings"
)

// Example runs the command as `anonymize -ipv4 16 -skip-private` would on
// its standard input.
func Example() {
	in := strings.NewReader("203.0.113.9 GET / \"2002:cb00:7109::1, 10.0.0.7\"\n[2001:db8:1:2::7]:443 v1.2.3.4.5\n")
	run([]string{"-ipv4", "16", "-skip-private"}, in, os.Stdout, os.Stderr)
	// Output:
	// 203.0.0.0 GET / "2002:cb00::, 10.0.0.7"
	// [2001:db8:1::]:443 v1.2.3.4.5
}
