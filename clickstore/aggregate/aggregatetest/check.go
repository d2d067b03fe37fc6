package aggregatetest

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/clickanon/clickanon/internal/errmask"
	"github.com/clickanon/clickanon/internal/testkit"
)

// The suite reports through t alone, with these few checks: a package
// that backends import into their own tests must not make them depend on
// an assertion library (testify), as DESIGN.md asks of every production
// package. Each check reports a failure with t.Errorf and returns whether
// it passed; the must forms stop the test with t.Fatalf. msgAndArgs is a
// lone value, or a format string and its arguments.

// describe is the caller's message after ": ", or "".
func describe(msgAndArgs []any) string {
	if m := testkit.Message(msgAndArgs); m != "" {
		return ": " + m
	}
	return ""
}

func check(t testing.TB, ok bool, fault string, msgAndArgs []any) bool {
	t.Helper()
	if !ok {
		t.Errorf("%s%s", fault, describe(msgAndArgs))
	}
	return ok
}

func must(t testing.TB, ok bool, fault string, msgAndArgs []any) {
	t.Helper()
	if !ok {
		t.Fatalf("%s%s", fault, describe(msgAndArgs))
	}
}

func equal(t testing.TB, want, got any, msgAndArgs ...any) bool {
	t.Helper()
	return check(t, reflect.DeepEqual(want, got), fmt.Sprintf("got %+v, want %+v", got, want), msgAndArgs)
}

func isTrue(t testing.TB, ok bool, msgAndArgs ...any) bool {
	t.Helper()
	return check(t, ok, "false, want true", msgAndArgs)
}

func isError(t testing.TB, err error, msgAndArgs ...any) bool {
	t.Helper()
	return check(t, err != nil, "no error, want one", msgAndArgs)
}

func positive(t testing.TB, n int, msgAndArgs ...any) bool {
	t.Helper()
	return check(t, n > 0, fmt.Sprintf("%d, want more than 0", n), msgAndArgs)
}

func empty[T any](t testing.TB, s []T, msgAndArgs ...any) bool {
	t.Helper()
	return check(t, len(s) == 0, fmt.Sprintf("%d elements, want none", len(s)), msgAndArgs)
}

func notPanics(t testing.TB, f func(), msgAndArgs ...any) (ok bool) {
	t.Helper()
	defer func() {
		if v := recover(); v != nil {
			t.Errorf("panic: %v%s", v, describe(msgAndArgs))
			ok = false
		}
	}()
	f()
	return true
}

// mustNoError stops the clause if err is not nil, printing err with
// every address in its text masked (errmask), as the storage packages
// mask their errors: a backend's error may name its server, and a
// failure message goes to a log like any error.
func mustNoError(t testing.TB, err error, msgAndArgs ...any) {
	t.Helper()
	if err != nil {
		errmask.Wrap(&err)
	}
	must(t, err == nil, fmt.Sprintf("error %v", err), msgAndArgs)
}

func mustTrue(t testing.TB, ok bool, msgAndArgs ...any) {
	t.Helper()
	must(t, ok, "false, want true", msgAndArgs)
}
