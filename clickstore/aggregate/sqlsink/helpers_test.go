package sqlsink

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
)

// t0 is the minute the tests' clicks fall in.
var t0 = time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)

func clock() time.Time { return t0.Add(time.Minute) }

func visitor(i int) clickstore.Pseudonym {
	var p clickstore.Pseudonym
	copy(p[:], fmt.Sprintf("sql%013d", i))
	return p
}

func click(link string, i int) clickstore.Click {
	return clickstore.Click{Link: link, Time: t0.Add(time.Duration(i%60) * time.Second), Visitor: visitor(i),
		Network: netip.MustParsePrefix("192.0.2.0/24"), Country: "DE", Device: "mobile"}
}

func sqlitePath(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "stats.db") }

func open(t testing.TB, dsn string, o *Options) *Sink {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	if o.Now == nil {
		o.Now = clock
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = time.Hour // tests flush by hand
	}
	s, err := Open(context.Background(), dsn, o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// clicks returns the total clicks of link's day bucket as s reads them.
func clicks(t testing.TB, s *Sink, link string) uint64 {
	t.Helper()
	cs, err := s.Cells(context.Background(), aggregate.Query{Link: link, From: aggregate.Day.Start(t0), To: aggregate.Day.Start(t0).Add(24 * time.Hour)})
	require.NoError(t, err)
	var n uint64
	for _, c := range cs {
		if c.Scope == aggregate.ScopeBucket && c.Dimension == aggregate.Total {
			n += c.Clicks
		}
	}
	return n
}

// assertMinuteCells checks that each of link's six cells of t0's minute
// (total, 4 dimensions, range) as s reads them counts visitors and clicks.
func assertMinuteCells(t *testing.T, s *Sink, link string, visitors, clicks uint64) {
	t.Helper()
	cs, err := s.Cells(context.Background(), aggregate.Query{Link: link, Granularity: aggregate.Minute, From: t0, To: t0.Add(time.Minute), K: 1})
	require.NoError(t, err)
	require.Len(t, cs, 6, "total, 4 dimensions, range")
	for _, c := range cs {
		assert.Equal(t, visitors, c.Visitors, "%s %s %q", c.Scope, c.Dimension, c.Value)
		assert.Equal(t, clicks, c.Clicks, "%s %s %q", c.Scope, c.Dimension, c.Value)
	}
}
