package publish_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/aggregatetest"
)

// faultEnv names the fault the map backend runs the suite with, in the
// child process TestSuiteFailsWrongBackends starts.
const faultEnv = "PUBLISH_MAPBACKEND_FAULT"

// TestSuiteOnMapBackend runs aggregatetest.Run as a user runs it, on the
// map backend. Run directly, the backend is right and the suite must
// pass; in a child process of TestSuiteFailsWrongBackends it is wrong in
// the way faultEnv names, and the suite must fail.
func TestSuiteOnMapBackend(t *testing.T) {
	f := fault(os.Getenv(faultEnv))
	aggregatetest.Run(t, func(t *testing.T, cfg aggregatetest.Config) aggregate.Backend {
		var shared *mapBackend
		if cfg.SharedWith != nil {
			shared = cfg.SharedWith.(*mapBackend)
		}
		return newMapBackend(f, cfg.Now, shared)
	})
}

// The conformance suite, run by a user on a Backend of their own, fails
// each way such a backend can be wrong, in the clause that covers it and
// with a message that says what is wrong: a breakdown dropped (a whole
// dimension, or the "" values), visitors of a range or of an hour or day
// summed instead of united, visitors counted from unique clicks or with
// bots, networks finer than ipmask.Default (as given, or cut to /24 and
// /48 without regard for 6to4), retention ignored or applied to every
// granularity, errors that quote their input, a range that takes in the
// bucket at To, a second instance counting twice, bucket starts not in
// UTC, refused clicks counted, conversions counted as clicks, and a done
// context ignored. Each runs in a child process (go test's own binary), as a
// failing suite fails the test that runs it.
//
// Checked to fail: with the map backend's faults switched off in the
// child (every row then passes and the test fails), and with each row's
// expected clause renamed (the clause is then not in the output).
func TestSuiteFailsWrongBackends(t *testing.T) {
	if os.Getenv(faultEnv) != "" {
		t.Skip("in the child process")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	for _, tt := range []struct {
		f      fault
		clause string // the failing subtest
		says   string // what its message says
	}{
		{dropDevice, "Dimensions", `cell device "mobile" missing`},
		{dropEmpty, "Dimensions", `cell country "" missing`},
		{sumRange, "UniquesOverRangeAreAUnion", "the range's visitors are the union, not the sum"},
		{sumCoarse, "CoarseBucketVisitorsAreAUnion", "the union of its minutes', not their sum"},
		{uniqueIsVis, "Dimensions", "visitors of cell"},
		{botVisitors, "UniquesOverRangeAreAUnion", "bots, which are never visitors"},
		{fineNetwork, "NetworkNoFinerThanDefault", "clicks per network kept"},
		{naiveNetwork, "NetworkNoFinerThanDefault", "2002:c633:6400::/40"},
		{noRetention, "SweepDropsFineBucketsOnly", "minute buckets past their retention are gone"},
		{sweepCoarse, "SweepDropsFineBucketsOnly", "hour buckets are kept 90 days"},
		{echoInput, "ErrorsCarryNoInput", "raw IP address(es) not masked"},
		{inclusiveTo, "BucketsAndRange", "map["},
		{doubleOnPeer, "ExactAcrossInstances", "bucket"},
		{localTime, "BucketsAndRange", "UTC"},
		{countRefused, "InvalidInputCountsNothing", "refused clicks are not counted"},
		{convAsClick, "CountsEveryAddOnce", "minute bucket"},
		{ignoreCancel, "ErrorsCarryNoInput", "Cells: canceled context with an address in the input: no error"},
		// The suite prints a backend's error with its addresses masked.
		{sweepFails, "SweepDropsFineBucketsOnly", "error mapbackend: sweep: dial tcp 0.0.0.0:5432"},
	} {
		t.Run(string(tt.f), func(t *testing.T) {
			cmd := exec.Command(exe, "-test.run=^TestSuiteOnMapBackend$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), faultEnv+"="+string(tt.f))
			out, err := cmd.CombinedOutput()
			text := string(out)
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "the suite passed a backend that is wrong: %s\n%s", tt.f, text)
			failed := failedClauses(text)
			assert.Contains(t, failed, "TestSuiteOnMapBackend/"+tt.clause, "the clause that covers %s fails\n%s", tt.f, text)
			assert.Contains(t, text, tt.says, "the failure says what is wrong")
			if tt.f == sweepFails {
				assert.NotContains(t, text, "203.0.113.9", "the suite printed a backend's error unmasked")
			}
		})
	}
}

// failedClauses returns the names of the subtests that failed in go
// test -v output.
func failedClauses(out string) []string {
	var names []string
	for line := range strings.Lines(out) {
		if f, ok := strings.CutPrefix(strings.TrimSpace(line), "--- FAIL: "); ok {
			names = append(names, strings.Fields(f)[0])
		}
	}
	return names
}
