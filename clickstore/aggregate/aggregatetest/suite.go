package aggregatetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/retention"
)

func init() {
	clauses = []clause{
		{"CountsEveryAddOnce", needNothing, testCountsEveryAdd},
		{"ExactAcrossInstances", needNothing, testAcrossInstances},
		{"Dimensions", needNothing, testDimensions},
		{"BucketsAndRange", needNothing, testBuckets},
		{"UniquesOverRangeAreAUnion", needNothing, testUniquesOverRange},
		{"CoarseBucketVisitorsAreAUnion", needNothing, testCoarseVisitors},
		{"InvalidInputCountsNothing", needNothing, testInvalid},
		{"NilContext", needNothing, testNilContext},
		{"EmptyAndInvalidQueries", needNothing, testQueries},
		{"SweepDropsFineBucketsOnly", needSweep, testSweep},
		{"EraseLink", needErase, testEraseLink},
		{"ErrorsCarryNoInput", needNothing, testErrorsCarryNoInput},
		{"NetworkNoFinerThanDefault", needNothing, testNetworkNoFinerThanDefault},
	}
}

// t0 is the hour the suite's clicks fall in: Tuesday 2026-03-03 10:00 UTC.
var t0 = time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)

// now is the clock the suite gives backends: after every click it adds,
// before any of its minute buckets is past the default retention.
var now = t0.Add(26 * time.Hour)

var day0 = aggregate.Day.Start(t0)

type env struct {
	t         *testing.T
	ctx       context.Context
	instances []aggregate.Backend
}

func setup(t *testing.T, newBackend NewBackend) *env {
	t.Helper()
	b := newBackend(t, Config{Now: func() time.Time { return now }})
	mustTrue(t, b != nil, "aggregatetest: newBackend returned nil")
	return &env{t: t, ctx: context.Background(), instances: []aggregate.Backend{b}}
}

// peer adds an instance sharing the first one's storage.
func (e *env) peer(newBackend NewBackend) aggregate.Backend {
	e.t.Helper()
	b := newBackend(e.t, Config{Now: func() time.Time { return now }, SharedWith: e.instances[0]})
	mustTrue(e.t, b != nil, "aggregatetest: newBackend returned nil")
	e.instances = append(e.instances, b)
	return b
}

func (e *env) b() aggregate.Backend { return e.instances[0] }

func (e *env) add(b aggregate.Backend, c clickstore.Click, u clickstore.Uniqueness) {
	e.t.Helper()
	mustNoError(e.t, b.Add(e.ctx, c, u))
}

// flush flushes every instance that buffers, twice: the second flush must
// write nothing again.
func (e *env) flush() {
	e.t.Helper()
	for range 2 {
		for _, b := range e.instances {
			if f, ok := b.(Flusher); ok {
				mustNoError(e.t, f.Flush(e.ctx))
			}
		}
	}
}

func (e *env) cells(q aggregate.Query) []aggregate.Cell {
	e.t.Helper()
	e.flush()
	cs, err := e.b().Cells(e.ctx, q)
	mustNoError(e.t, err)
	return cs
}

// visitor returns a distinct, non-zero pseudonym for i.
func visitor(i int) clickstore.Pseudonym {
	var p clickstore.Pseudonym
	copy(p[:], fmt.Sprintf("agg%013d", i))
	return p
}

var (
	netA = netip.MustParsePrefix("192.0.2.0/24")
	netB = netip.MustParsePrefix("198.51.100.0/24")
	netC = netip.MustParsePrefix("2001:db8:1::/48")
)

func click(link string, at time.Time, i int) clickstore.Click {
	return clickstore.Click{Link: link, Time: at, Visitor: visitor(i), Network: netA, Country: "DE", Referrer: "news.example", Device: "mobile"}
}

// sum adds the counts of the cells of scope s, dimension d and link.
func sum(cells []aggregate.Cell, s aggregate.Scope, d aggregate.Dimension, link string) aggregate.Counts {
	var n aggregate.Counts
	for _, c := range cells {
		if c.Scope == s && c.Dimension == d && c.Link == link {
			n = n.Add(c.Counts)
		}
	}
	return n
}

func totalAt(cells []aggregate.Cell, link string, start time.Time) (aggregate.Cell, bool) {
	for _, c := range cells {
		if c.Scope == aggregate.ScopeBucket && c.Dimension == aggregate.Total && c.Link == link && c.Start.Equal(start) {
			return c, true
		}
	}
	return aggregate.Cell{}, false
}

func rangeCell(cells []aggregate.Cell, link string) (aggregate.Cell, bool) {
	for _, c := range cells {
		if c.Scope == aggregate.ScopeRange && c.Dimension == aggregate.Total && c.Link == link {
			return c, true
		}
	}
	return aggregate.Cell{}, false
}

func dayQuery(link string, g aggregate.Granularity) aggregate.Query {
	return aggregate.Query{Link: link, Granularity: g, From: day0, To: day0.Add(24 * time.Hour), K: 1}
}

// mixed returns the i-th click of a mixed stream on link: clicks spread
// over ten minutes, some by bots, some conversions, with every kind of
// uniqueness.
func mixed(link string, i int) (clickstore.Click, clickstore.Uniqueness) {
	c := click(link, t0.Add(time.Duration(i%10)*time.Minute+time.Duration(i%60)*time.Second), i%37)
	switch {
	case i%11 == 0:
		c.Kind = clickstore.KindConversion
	case i%5 == 0:
		c.Bot = "crawler"
	}
	return c, []clickstore.Uniqueness{clickstore.Unique, clickstore.Repeat, clickstore.UniqueUnknown}[i%3]
}

// checkCounts checks that every granularity's bucket totals and range
// total equal want (per minute) for link.
func (e *env) checkCounts(link string, want map[time.Time]aggregate.Counts) {
	e.t.Helper()
	for _, g := range []aggregate.Granularity{aggregate.Minute, aggregate.Hour, aggregate.Day} {
		byBucket := map[time.Time]aggregate.Counts{}
		var all aggregate.Counts
		for m, n := range want {
			byBucket[g.Start(m)] = byBucket[g.Start(m)].Add(n)
			all = all.Add(n)
		}
		cs := e.cells(dayQuery(link, g))
		for start, n := range byBucket {
			c, ok := totalAt(cs, link, start)
			if isTrue(e.t, ok, "%s bucket %s of %q missing", g, start, link) {
				equal(e.t, n, c.Counts, "%s bucket %s of %q", g, start, link)
				equal(e.t, start.Add(g.Duration()), c.End, "%s bucket %s end", g, start)
			}
		}
		equal(e.t, all, sum(cs, aggregate.ScopeBucket, aggregate.Total, link), "%s buckets of %q", g, link)
		r, ok := rangeCell(cs, link)
		if isTrue(e.t, ok, "%s range cell of %q missing", g, link) {
			equal(e.t, all, r.Counts, "%s range of %q", g, link)
		}
	}
}

func testCountsEveryAdd(t *testing.T, newBackend NewBackend) {
	e := setup(t, newBackend)
	const workers, per = 8, 120
	links := []string{"alpha", "beta", "gamma"}
	want := map[string]map[time.Time]aggregate.Counts{}
	for _, l := range links {
		want[l] = map[time.Time]aggregate.Counts{}
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		for i := range per {
			c, u := mixed(links[(w+i)%len(links)], w*per+i)
			m := aggregate.Minute.Start(c.Time)
			want[c.Link][m] = want[c.Link][m].Add(aggregate.CountsOf(&c, u))
		}
		wg.Go(func() {
			for i := range per {
				c, u := mixed(links[(w+i)%len(links)], w*per+i)
				if err := e.b().Add(e.ctx, c, u); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		mustNoError(t, err)
	}
	for _, l := range links {
		e.checkCounts(l, want[l])
	}
}

func testAcrossInstances(t *testing.T, newBackend NewBackend) {
	e := setup(t, newBackend)
	e.peer(newBackend)
	const per = 300
	want := map[time.Time]aggregate.Counts{}
	for i := range per * len(e.instances) * 2 {
		c, u := mixed("shared", i)
		m := aggregate.Minute.Start(c.Time)
		want[m] = want[m].Add(aggregate.CountsOf(&c, u))
	}
	var adders, flushers sync.WaitGroup
	errs := make(chan error, 4*len(e.instances))
	stop := make(chan struct{})
	for k, b := range e.instances {
		for half := range 2 {
			adders.Go(func() {
				base := (2*k + half) * per
				for i := range per {
					c, u := mixed("shared", base+i)
					if err := b.Add(e.ctx, c, u); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		if f, ok := b.(Flusher); ok { // flushes race the Adds and each other
			flushers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := f.Flush(e.ctx); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	adders.Wait()
	close(stop)
	flushers.Wait()
	close(errs)
	for err := range errs {
		mustNoError(t, err)
	}
	e.checkCounts("shared", want)
}

func testDimensions(t *testing.T, newBackend NewBackend) {
	e := setup(t, newBackend)
	type dimVal struct {
		d aggregate.Dimension
		v string
	}
	want := map[dimVal]aggregate.Counts{}
	visitors := map[dimVal]map[int]bool{}
	countries := []string{"DE", "FR", ""}
	nets := []netip.Prefix{netA, netB, netC}
	refs := []string{"news.example", "", "mail.example"}
	devs := []string{"mobile", "desktop"}
	var total aggregate.Counts
	for i := range 60 {
		c := click("dims", t0.Add(time.Duration(i)*time.Second), i%20)
		c.Country, c.Network, c.Referrer, c.Device = countries[i%3], nets[(i/3)%3], refs[i%3], devs[i%2]
		u := clickstore.Unique
		if i >= 20 {
			u = clickstore.Repeat
		}
		e.add(e.b(), c, u)
		n := aggregate.CountsOf(&c, u)
		total = total.Add(n)
		for _, dv := range []dimVal{{aggregate.Country, c.Country}, {aggregate.Network, c.Network.String()}, {aggregate.Referrer, c.Referrer}, {aggregate.Device, c.Device}} {
			want[dv] = want[dv].Add(n)
			if visitors[dv] == nil {
				visitors[dv] = map[int]bool{}
			}
			visitors[dv][i%20] = true
		}
	}
	cs := e.cells(dayQuery("dims", aggregate.Minute))
	got := map[dimVal]aggregate.Cell{}
	for _, c := range cs {
		if c.Scope != aggregate.ScopeBucket || c.Dimension == aggregate.Total {
			continue
		}
		isTrue(t, !c.Other, "cell %s %q over a cap of 3 values", c.Dimension, c.Value)
		equal(t, t0, c.Start, "cell %s %q", c.Dimension, c.Value)
		got[dimVal{c.Dimension, c.Value}] = c
	}
	equal(t, len(want), len(got), "one cell per dimension value")
	for dv, n := range want {
		c, ok := got[dv]
		if !isTrue(t, ok, "cell %s %q missing", dv.d, dv.v) {
			continue
		}
		equal(t, n, c.Counts, "cell %s %q", dv.d, dv.v)
		equal(t, uint64(len(visitors[dv])), c.Visitors, "visitors of cell %s %q", dv.d, dv.v)
	}
	for _, d := range []aggregate.Dimension{aggregate.Country, aggregate.Network, aggregate.Referrer, aggregate.Device} {
		equal(t, total, sum(cs, aggregate.ScopeBucket, d, "dims"), "%s cells add up to the total", d)
	}
	tc, ok := totalAt(cs, "dims", t0)
	mustTrue(t, ok, "total cell missing")
	equal(t, total, tc.Counts)
	equal(t, uint64(20), tc.Visitors)
}

func testBuckets(t *testing.T, newBackend NewBackend) {
	e := setup(t, newBackend)
	ats := []time.Time{t0, t0.Add(59 * time.Second), t0.Add(time.Minute), t0.Add(time.Hour - time.Second), t0.Add(time.Hour)}
	for i, at := range ats {
		e.add(e.b(), click("edges", at, i), clickstore.Unique)
	}
	e.add(e.b(), click("elsewhere", t0, 99), clickstore.Unique)

	tests := []struct {
		name   string
		q      aggregate.Query
		starts map[time.Time]uint64 // bucket start: clicks
	}{
		{"minute from its start, to the next", aggregate.Query{Granularity: aggregate.Minute, From: t0, To: t0.Add(time.Minute)},
			map[time.Time]uint64{t0: 2}},
		{"from just after a bucket start leaves it out", aggregate.Query{Granularity: aggregate.Minute, From: t0.Add(time.Nanosecond), To: t0.Add(2 * time.Minute)},
			map[time.Time]uint64{t0.Add(time.Minute): 1}},
		{"to just after a bucket start takes it in", aggregate.Query{Granularity: aggregate.Minute, From: t0, To: t0.Add(time.Minute + time.Nanosecond)},
			map[time.Time]uint64{t0: 2, t0.Add(time.Minute): 1}},
		{"hours", aggregate.Query{Granularity: aggregate.Hour, From: t0, To: t0.Add(2 * time.Hour)},
			map[time.Time]uint64{t0: 4, t0.Add(time.Hour): 1}},
		{"day, in another time zone", aggregate.Query{Granularity: aggregate.Day, From: day0.In(time.FixedZone("X", 3600)), To: day0.Add(24 * time.Hour)},
			map[time.Time]uint64{day0: 5}},
		{"nothing in range", aggregate.Query{Granularity: aggregate.Minute, From: t0.Add(-time.Hour), To: t0},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.Link, q.K = "edges", 1
			cs := e.cells(q)
			got := map[time.Time]uint64{}
			var clicks uint64
			for _, c := range cs {
				equal(t, "edges", c.Link, "only the queried link")
				equal(t, q.Granularity, c.Granularity)
				if c.Scope == aggregate.ScopeBucket && c.Dimension == aggregate.Total {
					got[c.Start] = c.Clicks
					clicks += c.Clicks
					equal(t, c.Start.Add(q.Granularity.Duration()), c.End)
					equal(t, time.UTC, c.Start.Location())
				}
			}
			if tt.starts == nil {
				empty(t, cs)
				return
			}
			equal(t, tt.starts, got)
			r, ok := rangeCell(cs, "edges")
			mustTrue(t, ok, "range cell missing")
			equal(t, clicks, r.Clicks)
			isTrue(t, r.Start.Equal(q.From) && r.End.Equal(q.To), "range cell spans the query: %s to %s", r.Start, r.End)
		})
	}
}

func testUniquesOverRange(t *testing.T, newBackend NewBackend) {
	e := setup(t, newBackend)
	// 30 visitors on day 0; on day 1, 20 of them again and 10 new ones;
	// bots on both days add clicks but no visitors.
	for i := range 30 {
		e.add(e.b(), click("loyal", t0, i), clickstore.Unique)
	}
	for i := 10; i < 40; i++ {
		e.add(e.b(), click("loyal", t0.Add(24*time.Hour), i), clickstore.Unique)
	}
	for i := range 5 {
		c := click("loyal", t0.Add(time.Duration(i)*24*time.Hour/4), 1000+i)
		c.Bot = "crawler"
		e.add(e.b(), c, clickstore.Unique)
	}
	cs := e.cells(aggregate.Query{Link: "loyal", From: day0, To: day0.Add(48 * time.Hour), K: 1})
	d0, ok0 := totalAt(cs, "loyal", day0)
	d1, ok1 := totalAt(cs, "loyal", day0.Add(24*time.Hour))
	r, okr := rangeCell(cs, "loyal")
	mustTrue(t, ok0 && ok1 && okr, "day and range cells present")
	equal(t, uint64(30), d0.Visitors, "visitors of day 0: 30 people and bots, which are never visitors")
	equal(t, uint64(30), d1.Visitors, "visitors of day 1: 30 people and bots, which are never visitors")
	equal(t, uint64(40), r.Visitors, "the range's visitors are the union, not the sum")
	equal(t, uint64(60), r.Unique, "unique clicks are per window and add up")
	equal(t, uint64(65), r.Clicks)
	equal(t, uint64(5), r.Bots)
}

// testCoarseVisitors checks that an hour's and a day's visitors, in
// total and in each dimension value, are the visitors of the union of
// their minutes, never the sum of the minutes' visitors (a backend that
// compacts minutes into hours by adding their cells would count a
// visitor once per minute).
func testCoarseVisitors(t *testing.T, newBackend NewBackend) {
	e := setup(t, newBackend)
	// 12 visitors, each in 5 different minutes of hour t0 and once in
	// the next hour.
	for i := range 12 {
		for m := range 5 {
			e.add(e.b(), click("coarse", t0.Add(time.Duration(i+7*m)*time.Minute), i), clickstore.Unique)
		}
		e.add(e.b(), click("coarse", t0.Add(time.Hour+time.Duration(i)*time.Minute), i), clickstore.Repeat)
	}
	for _, tt := range []struct {
		g        aggregate.Granularity
		start    time.Time
		visitors uint64
	}{
		{aggregate.Hour, t0, 12},
		{aggregate.Hour, t0.Add(time.Hour), 12},
		{aggregate.Day, day0, 12},
	} {
		cs := e.cells(dayQuery("coarse", tt.g))
		seen := false
		for _, c := range cs {
			if c.Scope != aggregate.ScopeBucket || !c.Start.Equal(tt.start) {
				continue
			}
			seen = true
			equal(t, tt.visitors, c.Visitors, "visitors of the %s bucket %s, %s %q: the union of its minutes', not their sum", tt.g, tt.start, c.Dimension, c.Value)
		}
		isTrue(t, seen, "%s bucket %s missing", tt.g, tt.start)
	}
	r, ok := rangeCell(e.cells(dayQuery("coarse", aggregate.Minute)), "coarse")
	mustTrue(t, ok, "range cell missing")
	equal(t, uint64(12), r.Visitors, "visitors of a range of minutes: the union, not the sum")
}

// testNilContext checks that a nil context, the caller's bug that Go lets
// compile, is an error from every method, never a panic, and leaves the
// backend counting (a panic with a lock or a connection held would leave
// it hung).
func testNilContext(t *testing.T, newBackend NewBackend) {
	e := setup(t, newBackend)
	var nilCtx context.Context
	calls := []struct {
		name string
		call func() error
	}{
		{"Add", func() error { return e.b().Add(nilCtx, click("nil-ctx", t0, 1), clickstore.Unique) }},
		{"Cells", func() error { _, err := e.b().Cells(nilCtx, dayQuery("nil-ctx", aggregate.Minute)); return err }},
	}
	if s, ok := e.b().(retention.Sweepable); ok {
		calls = append(calls, struct {
			name string
			call func() error
		}{"Sweep", func() error { _, err := s.Sweep(nilCtx, now); return err }})
	}
	if er, ok := e.b().(LinkEraser); ok {
		calls = append(calls, struct {
			name string
			call func() error
		}{"EraseLink", func() error { _, err := er.EraseLink(nilCtx, "nil-ctx"); return err }})
	}
	for _, c := range calls {
		var err error
		if notPanics(t, func() { err = c.call() }, "%s with a nil context", c.name) {
			isError(t, err, "%s with a nil context", c.name)
		}
	}
	e.add(e.b(), click("nil-ctx", t0, 1), clickstore.Unique)
	equal(t, uint64(1), sum(e.cells(dayQuery("nil-ctx", aggregate.Minute)), aggregate.ScopeBucket, aggregate.Total, "nil-ctx").Clicks)
}

func testInvalid(t *testing.T, newBackend NewBackend) {
	e := setup(t, newBackend)
	good := click("invalid", t0, 1)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		c    func(c *clickstore.Click)
		u    clickstore.Uniqueness
	}{
		{"empty link", e.ctx, func(c *clickstore.Click) { c.Link = "" }, clickstore.Unique},
		{"zero time", e.ctx, func(c *clickstore.Click) { c.Time = time.Time{} }, clickstore.Unique},
		{"zero visitor", e.ctx, func(c *clickstore.Click) { c.Visitor = clickstore.Pseudonym{} }, clickstore.Unique},
		{"no network", e.ctx, func(c *clickstore.Click) { c.Network = netip.Prefix{} }, clickstore.Unique},
		{"network with host bits", e.ctx, func(c *clickstore.Click) { c.Network = netip.MustParsePrefix("192.0.2.7/24") }, clickstore.Unique},
		{"unknown kind", e.ctx, func(c *clickstore.Click) { c.Kind = 9 }, clickstore.Unique},
		// A referrer that is the address itself would be kept as a breakdown.
		{"referrer an address", e.ctx, func(c *clickstore.Click) { c.Referrer = "198.51.100.7" }, clickstore.Unique},
		{"referrer spelling an address", e.ctx, func(c *clickstore.Click) { c.Referrer = "app-c6336407.nip.io" }, clickstore.Unique},
		// So would a link or a label holding one.
		{"link holding an address", e.ctx, func(c *clickstore.Click) { c.Link = "out/https://example.com/?ip=198.51.100.7" }, clickstore.Unique},
		{"bot holding an address", e.ctx, func(c *clickstore.Click) { c.Bot = "crawler (+2001:db8:1:2::7)" }, clickstore.Unique},
		{"device spelling an address", e.ctx, func(c *clickstore.Click) { c.Device = "ip-198-51-100-7" }, clickstore.Unique},
		{"unknown uniqueness", e.ctx, func(*clickstore.Click) {}, clickstore.Repeat + 1},
		{"canceled context", canceled, func(*clickstore.Click) {}, clickstore.Unique},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.c(&c)
			err := e.b().Add(tt.ctx, c, tt.u)
			mustTrue(t, err != nil, "no error, want one")
			if tt.ctx.Err() != nil {
				isTrue(t, errors.Is(err, context.Canceled), "error %v wraps context.Canceled", err)
			}
		})
	}
	cs := e.cells(dayQuery("invalid", aggregate.Minute))
	empty(t, cs, "refused clicks are not counted")
}

func testQueries(t *testing.T, newBackend NewBackend) {
	e := setup(t, newBackend)
	e.add(e.b(), click("queried", t0, 1), clickstore.Unique)
	cs := e.cells(dayQuery("never-clicked", aggregate.Hour))
	empty(t, cs, "a link never clicked has no cells")
	for _, q := range []aggregate.Query{
		{Link: "queried", From: t0, To: t0},
		{Link: "queried", From: t0.Add(time.Hour), To: t0},
		{Link: "queried", Granularity: 9, From: t0, To: t0.Add(time.Hour)},
		{Link: "queried", To: t0},
		{Link: "queried", From: t0, To: t0.Add(time.Hour), K: -1},
	} {
		_, err := e.b().Cells(e.ctx, q)
		isError(t, err, "query %+v", q)
	}
}

func testSweep(t *testing.T, newBackend NewBackend) {
	e := setup(t, newBackend)
	for i := range 10 {
		e.add(e.b(), click("swept", t0.Add(time.Duration(i)*time.Minute), i), clickstore.Unique)
	}
	before := ordered(e.cells(dayQuery("swept", aggregate.Hour)))
	days := ordered(e.cells(dayQuery("swept", aggregate.Day)))
	mustTrue(t, len(before) > 0, "no elements, want some")
	sw := e.b().(retention.Sweepable)
	// The last minute bucket ends at t0+10m; minutes are kept 48 hours.
	st, err := sw.Sweep(e.ctx, t0.Add(48*time.Hour+10*time.Minute-time.Second))
	mustNoError(t, err)
	isTrue(t, len(e.cells(dayQuery("swept", aggregate.Minute))) > 0, "the last minute is kept until its retention ends")
	positive(t, st.Held)
	st, err = sw.Sweep(e.ctx, t0.Add(48*time.Hour+10*time.Minute))
	mustNoError(t, err)
	positive(t, st.Deleted)
	empty(t, e.cells(dayQuery("swept", aggregate.Minute)), "minute buckets past their retention are gone")
	// Cells come in no particular order: the contract does not set one.
	equal(t, before, ordered(e.cells(dayQuery("swept", aggregate.Hour))), "the hour keeps what the minutes held")
	equal(t, uint64(10), sum(e.cells(dayQuery("swept", aggregate.Day)), aggregate.ScopeBucket, aggregate.Total, "swept").Clicks)
	// The hour ends at t0+1h and is kept 90 days; the day for ever.
	hourEnd := t0.Add(time.Hour + aggregate.DefaultHourRetention)
	_, err = sw.Sweep(e.ctx, hourEnd.Add(-time.Second))
	mustNoError(t, err)
	equal(t, before, ordered(e.cells(dayQuery("swept", aggregate.Hour))), "hour buckets are kept 90 days, not by the minutes' retention")
	_, err = sw.Sweep(e.ctx, hourEnd)
	mustNoError(t, err)
	empty(t, e.cells(dayQuery("swept", aggregate.Hour)), "hour buckets past their 90 days are gone")
	_, err = sw.Sweep(e.ctx, t0.AddDate(100, 0, 0))
	mustNoError(t, err)
	equal(t, days, ordered(e.cells(dayQuery("swept", aggregate.Day))), "day buckets are kept for ever")
}

// ordered returns cells sorted by their printed form, so that two
// answers compare whatever order a backend returns its cells in.
func ordered(cells []aggregate.Cell) []aggregate.Cell {
	cells = slices.Clone(cells)
	slices.SortFunc(cells, func(a, b aggregate.Cell) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	return cells
}

func testEraseLink(t *testing.T, newBackend NewBackend) {
	e := setup(t, newBackend)
	for i := range 5 {
		e.add(e.b(), click("erased", t0, i), clickstore.Unique)
		e.add(e.b(), click("kept", t0, i), clickstore.Unique)
	}
	e.flush()
	e.add(e.b(), click("erased", t0.Add(time.Minute), 9), clickstore.Unique) // not flushed yet
	n, err := e.b().(LinkEraser).EraseLink(e.ctx, "erased")
	mustNoError(t, err)
	positive(t, n)
	for _, g := range []aggregate.Granularity{aggregate.Minute, aggregate.Hour, aggregate.Day} {
		empty(t, e.cells(dayQuery("erased", g)), "%s cells of the erased link", g)
		equal(t, uint64(5), sum(e.cells(dayQuery("kept", g)), aggregate.ScopeBucket, aggregate.Total, "kept").Clicks, "%s cells of another link", g)
	}
	_, err = e.b().(LinkEraser).EraseLink(e.ctx, "")
	isError(t, err, "erasing the empty link")
}

// A Click built by hand (or by a Builder whose policy keeps more bits than
// ipmask.Default) may carry a network finer than the default /24 and /48:
// a whole address as a /32 or /128, an IPv4-mapped one, or a 6to4 /48
// that holds all 32 bits of its IPv4 address. What a backend stores and
// returns is the network ipmask.Default keeps for it, with every click
// counted there; a network already coarser is kept as it is.
func testNetworkNoFinerThanDefault(t *testing.T, newBackend NewBackend) {
	e := setup(t, newBackend)
	tests := []struct{ network, kept string }{
		{"198.51.100.7/32", "198.51.100.0/24"},
		{"198.51.100.128/25", "198.51.100.0/24"},
		{"::ffff:198.51.100.9/128", "198.51.100.0/24"},
		{"::ffff:198.51.100.0/120", "198.51.100.0/24"},
		{"2001:db8:1:2::7/128", "2001:db8:1::/48"},
		{"2001:db8:1:2::/64", "2001:db8:1::/48"},
		{"2002:c633:6407::/48", "2002:c633:6400::/40"}, // 6to4: the /48 is the whole IPv4 address
		{"::c633:6407/128", "::/48"},                   // IPv4-compatible
		{"64:ff9b::c633:6407/128", "64:ff9b::/48"},     // NAT64
		{"203.0.113.0/24", "203.0.113.0/24"},
		{"198.18.0.0/15", "198.18.0.0/15"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"::ffff:0:0/96", "0.0.0.0/0"},
	}
	want := map[string]uint64{}
	for i, tt := range tests {
		c := click("fine", t0, i)
		c.Network = netip.MustParsePrefix(tt.network)
		c.RawAddr = netip.Addr{}
		if c.Network.Bits() == c.Network.Addr().BitLen() {
			c.RawAddr = c.Network.Addr() // a Builder with KeepRawAddr
		}
		e.add(e.b(), c, clickstore.Unique)
		want[tt.kept]++
	}
	got := map[string]uint64{}
	var text strings.Builder
	for _, c := range e.cells(dayQuery("fine", aggregate.Minute)) {
		fmt.Fprintf(&text, "%s %s\n", c.Link, c.Value)
		if c.Dimension == aggregate.Network {
			got[c.Value] += c.Clicks
		}
	}
	equal(t, want, got, "clicks per network kept")
	ipmasktest.AssertNoRawIP(t, ipmask.Default, text.String(), "the cells' links and values")
}
