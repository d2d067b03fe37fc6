package window_test

import (
	"os"
	"os/exec"
	"regexp"
	"testing"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bugEnv names the bug the suite runs against in a child process.
const bugEnv = "WINDOW_TEST_STORE_BUG"

func runSuite(t *testing.T, bug string) {
	clickstoretest.Run(t, func(t *testing.T, cfg clickstoretest.Config) clickstore.Store {
		return newMapStore(bug, cfg.Now, cfg.Policy, cfg.Capacity)
	})
}

// A store written by a user that keeps the contract passes the suite.
func TestSuitePassesARightStore(t *testing.T) {
	if bug := os.Getenv(bugEnv); bug != "" {
		// A child process of TestSuiteFailsEveryWrongStore: run the suite
		// on the wrong store; its failures are the parent's data.
		runSuite(t, bug)
		return
	}
	runSuite(t, "")
}

// Each store that breaks one clause of the contract fails the suite, in the
// subtest of that clause, with a message that says what is wrong. The
// suite runs in a child process (the test binary itself), since a failing
// *testing.T cannot be caught in process.
func TestSuiteFailsEveryWrongStore(t *testing.T) {
	if os.Getenv(bugEnv) != "" {
		t.Skip("child process")
	}
	tests := []struct {
		bug    string
		clause string // the subtest that must fail
		says   string // a regexp its message must match
	}{
		{"kept 1ns too long", "WindowBoundary", `still readable by Latest at t\+W`},
		{"gone 1ns early", "WindowBoundary", `not readable by Latest at t\+W-1ns`},
		{"wall clock", "WindowBoundary", `still readable by Latest at t\+W`},
		{"repeat extends", "RepeatDoesNotExtendLifetime", `the repeat extended its lifetime`},
		{"repeat held", "RepeatDoesNotExtendLifetime", `want the first click, unchanged`},
		{"evicts at capacity", "Full", `Record beyond capacity = true, <nil>; want an error wrapping ErrFull`},
		{"forgets PrevVisitor", "PrevVisitorIsSameVisitor", `PrevVisitor holds a click on the link was first`},
		{"erases one of the visitor's clicks", "EraseVisitor", `EraseVisitor = 1, <nil>; want 3`},
		{"erases one but counts all", "EraseVisitor", `erased visitor's click still readable`},
		{"erases the visitor's links", "EraseVisitor", `another visitor's click was erased`},
		{"erases links by prefix", "EraseLink", `erased a click on another link`},
		{"lifetime from Click.Time", "WindowByStoreClock", `gone at t\+W-1ns: its lifetime was taken from Click\.Time`},
		{"ignores ctx", "NilContext", `with a nil context = nil error`},
		{"echoes input", "ErrorsCarryNoInput", `(raw IP|quotes its input)`},
		{"readable after Close", "Closed", `after Close = <nil>; want an error wrapping ErrClosed`},
		{"clock goes back", "ClockBackDoesNotRevive", `readable again after the clock went back`},
		{"no validation", "InvalidInput", `want an error wrapping ErrInvalidClick`},
		{"expired clicks fill it", "Full", `expired clicks still count against the capacity`},
		{"keeps PrevVisitor", "RoundTrip", `not read back intact`},
		{"Latest gives the oldest", "Latest", `any link: Latest = "a", true; want "b"`},
		{"Sweep reports no age", "Sweep", `want 5 held, 0 deleted, oldest 1m`},
		{"ignores a done ctx", "DoneContext", `with a done context`},
		{"checks and inserts apart", "OneFirstPerVisitorAndLink", `firsts, want exactly 1`},
		{"holds conversions", "InvalidInput", `conversion: Record = true, <nil>`},
		// The suite prints a store's error with its addresses masked.
		{"Close fails naming its server", "Closed", `Close: mapstore: close: write tcp 0\.0\.0\.0:41000->0\.0\.0\.0:6379`},
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(regexp.MustCompile(`\W+`).ReplaceAllString(tt.bug, "_"), func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(exe, "-test.run=^TestSuitePassesARightStore$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), bugEnv+"="+tt.bug)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "the suite passed a store that %s:\n%s", tt.bug, out)
			assert.Contains(t, string(out), "--- FAIL: TestSuitePassesARightStore/"+tt.clause+" ",
				"a store that %s does not fail the clause %s:\n%s", tt.bug, tt.clause, out)
			assert.Regexp(t, tt.says, string(out), "a store that %s: the suite does not say what is wrong", tt.bug)
			if tt.bug == "Close fails naming its server" {
				assert.NotContains(t, string(out), "203.0.113.9", "the suite printed a store's error unmasked")
			}
		})
	}
}
