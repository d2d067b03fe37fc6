// Package testkit holds what the module's tests and its test-helper
// packages (ipmasktest, aggregatetest) share. It imports no assertion
// library: a production package that imports it must not make its users
// depend on one (DESIGN.md).
package testkit

import (
	"fmt"
	"strings"
	"testing"
)

// Message formats msgAndArgs the way testify does: "" for none, a lone
// string as it is, another lone value with %+v, or a format string and its
// arguments.
func Message(msgAndArgs []any) string {
	switch {
	case len(msgAndArgs) == 0:
		return ""
	case len(msgAndArgs) == 1:
		if s, ok := msgAndArgs[0].(string); ok {
			return s
		}
		return fmt.Sprintf("%+v", msgAndArgs[0])
	}
	if format, ok := msgAndArgs[0].(string); ok {
		return fmt.Sprintf(format, msgAndArgs[1:]...)
	}
	return fmt.Sprint(msgAndArgs...)
}

// BadCall is one call of a public API with a bad argument or receiver.
type BadCall struct {
	Name string
	Call func() error
	Want string // in the error's text
}

// CheckBadCalls runs each call in a subtest of its name: the call must not
// panic, and must return an error whose text starts with pkg and ": " (it
// names the package) and holds Want (it says what was wrong).
func CheckBadCalls(t *testing.T, pkg string, calls []BadCall) {
	t.Helper()
	for _, c := range calls {
		t.Run(c.Name, func(t *testing.T) { checkBadCall(t, pkg, c) })
	}
}

// checkBadCall is one call's checks, reported through t.Errorf.
func checkBadCall(t testing.TB, pkg string, c BadCall) {
	t.Helper()
	err, panicked := call(c.Call)
	switch {
	case panicked != nil:
		t.Errorf("panicked: %v", panicked)
		return
	case err == nil:
		t.Errorf("no error, want one holding %q", c.Want)
		return
	}
	if !strings.HasPrefix(err.Error(), pkg+": ") {
		t.Errorf("%q does not name the package %s", err, pkg)
	}
	if !strings.Contains(err.Error(), c.Want) {
		t.Errorf("%q does not say %q", err, c.Want)
	}
}

// call runs f and returns its error, or what it panicked with.
func call(f func() error) (err error, panicked any) {
	defer func() { panicked = recover() }()
	return f(), nil
}
