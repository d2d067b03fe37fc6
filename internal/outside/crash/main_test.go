package crash_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/internal/pgtest"
)

// childEnv names the environment variable that makes the test binary a
// child process of a test: it holds the child's part (see children_test.go).
const childEnv = "CLICKANON_CRASH_CHILD"

func TestMain(m *testing.M) {
	if part := os.Getenv(childEnv); part != "" {
		os.Exit(runChild(part))
	}
	pgtest.Main(m)
}

// day is the fake day of these tests' clicks; now, the sinks' clock, is
// within it, so that no default retention drops a bucket.
var (
	day = time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC)
	now = day.Add(20 * time.Hour)
)

func fixedNow() time.Time { return now }

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// visitor returns the pseudonym of visitor id (never zero).
func visitor(id uint64) clickstore.Pseudonym {
	var p clickstore.Pseudonym
	binary.BigEndian.PutUint64(p[:8], id+1)
	binary.BigEndian.PutUint64(p[8:], (id+1)*0x9e3779b97f4a7c15)
	return p
}

var (
	countries = []string{"", "DE", "FR", "US"}
	devices   = []string{"", "mobile", "desktop"}
	referrers = []string{"", "news.example.com", "t.co"}
)

// click returns visitor id's click on link at t, with dimension values
// drawn from id.
func click(link string, id uint64, t time.Time) clickstore.Click {
	n := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, byte(id % 5), 0}), 24)
	if id%3 == 0 {
		n = netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/48", id%4))
	}
	return clickstore.Click{
		Link: link, Time: t, Visitor: visitor(id), Network: n,
		Country: countries[id%4], Device: devices[id%3], Referrer: referrers[(id/7)%3],
	}
}

// openSink opens dsn with the fixed clock, flushing only when told, and
// closes it when t ends.
func openSink(t *testing.T, dsn string) *sqlsink.Sink {
	t.Helper()
	s, err := sqlsink.Open(context.Background(), dsn, &sqlsink.Options{Now: fixedNow, FlushInterval: time.Hour, Logger: discard()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// dayQuery selects every link's buckets of granularity g on the test day
// (and the day after), at the lowest threshold.
func dayQuery(link string, g aggregate.Granularity) aggregate.Query {
	return aggregate.Query{Link: link, Granularity: g, From: day, To: day.Add(48 * time.Hour), K: 1}
}

// scaled returns n, or raced when the race detector is on.
func scaled(n, raced int) int {
	if raceOn {
		return raced
	}
	return n
}
