package clickstoretest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/internal/errmask"
	"github.com/clickanon/clickanon/retention"
)

func init() {
	clauses = []clause{
		{"WindowBoundary", testWindowBoundary},
		{"WindowByStoreClock", testWindowByStoreClock},
		{"OneFirstPerVisitorAndLink", testOneFirst},
		{"PrevVisitorIsSameVisitor", testPrevVisitor},
		{"RepeatDoesNotExtendLifetime", testRepeatDoesNotExtend},
		{"Latest", testLatest},
		{"RoundTrip", testRoundTrip},
		{"EraseVisitor", testEraseVisitor},
		{"EraseLink", testEraseLink},
		{"ClockBackDoesNotRevive", testClockBack},
		{"Sweep", testSweep},
		{"SweepFarFuture", testSweepFarFuture},
		{"ExactSweepReport", testExactSweepReport},
		{"NilContext", testNilContext},
		{"DoneContext", testDoneContext},
		{"InvalidInput", testInvalid},
		{"Full", testFull},
		{"Closed", testClosed},
		{"ErrorsCarryNoInput", testErrorsCarryNoInput},
	}
}

// t0 is an arbitrary instant, not aligned to any window.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

const window = retention.DefaultWindow

type env struct {
	t     *testing.T
	ctx   context.Context
	clock *Clock
	store clickstore.Store
}

func setup(t *testing.T, newStore NewStore, capacity int) *env {
	t.Helper()
	clk := NewClock(t0)
	s := newStore(t, Config{Now: clk.Now, Capacity: capacity})
	if s == nil {
		t.Fatal("clickstoretest: newStore returned nil")
	}
	t.Cleanup(func() { _ = s.Close() })
	return &env{t: t, ctx: context.Background(), clock: clk, store: s}
}

// visitor returns a distinct, non-zero pseudonym for i.
func visitor(i int) clickstore.Pseudonym { return Visitor(i) }

func click(v clickstore.Pseudonym, link string, at time.Time) clickstore.Click {
	return clickstore.Click{
		Link:    link,
		Time:    at,
		Visitor: v,
		Network: netip.MustParsePrefix("192.0.2.0/24"),
	}
}

func (e *env) record(c clickstore.Click) bool {
	e.t.Helper()
	first, err := e.store.Record(e.ctx, c)
	if err != nil {
		e.t.Fatalf("Record(%s on %q): %v", c.Visitor, c.Link, shown(err))
	}
	return first
}

func (e *env) latest(v, prev clickstore.Pseudonym, link string) (clickstore.Click, bool) {
	e.t.Helper()
	c, ok, err := e.store.Latest(e.ctx, v, prev, link)
	if err != nil {
		e.t.Fatalf("Latest(%s, %s, %q): %v", v, prev, link, shown(err))
	}
	return c, ok
}

func (e *env) all() []clickstore.Click {
	e.t.Helper()
	var out []clickstore.Click
	for c, err := range e.store.All(e.ctx) {
		if err != nil {
			e.t.Fatalf("All: %v", shown(err))
		}
		out = append(out, c)
	}
	return out
}

// describe shows all of a test click, pseudonyms and raw address too,
// which Click.String leaves out: the suite's clicks are made up.
func describe(c clickstore.Click) string {
	return fmt.Sprintf("%v (visitor %v, prev %v, raw %v, time %v)", c, c.Visitor, c.PrevVisitor, c.RawAddr, c.Time)
}

// same reports whether got is want as a Store must read it back.
func same(got, want clickstore.Click) bool {
	want.PrevVisitor = clickstore.Pseudonym{}
	if !got.Time.Equal(want.Time) {
		return false
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	return got == want
}

// A click recorded at t must be readable at t+W-1ns and gone, and so
// recordable as a first again, at exactly t+W.
func testWindowBoundary(t *testing.T, newStore NewStore) {
	e := setup(t, newStore, 0)
	v := visitor(1)
	c := click(v, "boundary", t0)
	if !e.record(c) {
		t.Fatal("first click on an empty store was not first")
	}
	e.clock.Set(t0.Add(window - 1))
	if _, ok := e.latest(v, clickstore.Pseudonym{}, ""); !ok {
		t.Error("click not readable by Latest at t+W-1ns")
	}
	if n := len(e.all()); n != 1 {
		t.Errorf("All at t+W-1ns gave %d clicks, want 1", n)
	}
	if e.record(click(v, "boundary", t0.Add(window-1))) {
		t.Error("repeat at t+W-1ns reported as first")
	}
	e.clock.Set(t0.Add(window))
	if _, ok := e.latest(v, clickstore.Pseudonym{}, ""); ok {
		t.Error("click still readable by Latest at t+W")
	}
	if n := len(e.all()); n != 0 {
		t.Errorf("All at t+W gave %d clicks, want 0", n)
	}
	if !e.record(click(v, "boundary", t0.Add(window))) {
		t.Error("click at t+W not first although the earlier one expired")
	}
}

// A click's lifetime must run from when the store's clock recorded it,
// whatever its Time says (a click stamped by another machine, late or
// early): readable until that clock reads t+W-1ns, gone at t+W.
func testWindowByStoreClock(t *testing.T, newStore NewStore) {
	e := setup(t, newStore, 0)
	skews := []time.Duration{-window - time.Hour, -time.Minute, -1, 1, time.Minute, window + time.Hour}
	for i, d := range skews {
		if !e.record(click(visitor(i), "skewed", t0.Add(d))) {
			t.Fatalf("click stamped %v from the store's clock was not first", d)
		}
	}
	e.clock.Set(t0.Add(window - 1))
	for i, d := range skews {
		if _, ok := e.latest(visitor(i), clickstore.Pseudonym{}, "skewed"); !ok {
			t.Errorf("click stamped %v from the store's clock gone at t+W-1ns: its lifetime was taken from Click.Time, not the store's clock", d)
		}
	}
	e.clock.Set(t0.Add(window))
	for i, d := range skews {
		if _, ok := e.latest(visitor(i), clickstore.Pseudonym{}, "skewed"); ok {
			t.Errorf("click stamped %v from the store's clock readable at t+W: its lifetime was taken from Click.Time, not the store's clock", d)
		}
	}
}

// Under many concurrent Records, exactly one per visitor and link must be
// reported first. The goroutines start together and go through the keys
// in the same order, round after round on new links, so that Records of
// one key do meet: a store that checks and inserts apart fails.
func testOneFirst(t *testing.T, newStore NewStore) {
	e := setup(t, newStore, 0)
	const visitors, links, goroutines, rounds = 8, 4, 16, 8
	var firsts [rounds][visitors][links]atomic.Int32
	errs := make(chan error, goroutines*rounds)
	for r := range rounds {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range goroutines {
			wg.Go(func() {
				<-start
				for i := range visitors * links {
					// Odd rounds shift each goroutine's start a little.
					k := (i + g*(r%2)) % (visitors * links)
					v, l := k/links, k%links
					first, err := e.store.Record(e.ctx, click(visitor(v), fmt.Sprint("link", r, "-", l), t0))
					if err != nil {
						errs <- err
						return
					}
					if first {
						firsts[r][v][l].Add(1)
					}
				}
			})
		}
		close(start)
		wg.Wait()
	}
	close(errs)
	for err := range errs {
		t.Fatalf("Record: %v", shown(err))
	}
	for r := range rounds {
		for v := range visitors {
			for l := range links {
				if n := firsts[r][v][l].Load(); n != 1 {
					t.Errorf("round %d, visitor %d on link %d: %d firsts, want exactly 1", r, v, l, n)
				}
			}
		}
	}
}

// A click held under the visitor's previous pseudonym must make a click
// carrying it as PrevVisitor a repeat, and be found by Latest through prev.
func testPrevVisitor(t *testing.T, newStore NewStore) {
	e := setup(t, newStore, 0)
	old, cur := visitor(1), visitor(2)
	e.record(click(old, "x", t0))
	e.clock.Set(t0.Add(time.Minute))
	c := click(cur, "x", t0.Add(time.Minute))
	c.PrevVisitor = old
	if e.record(c) {
		t.Error("click whose PrevVisitor holds a click on the link was first")
	}
	got, ok := e.latest(cur, old, "x")
	if !ok || got.Visitor != old {
		t.Errorf("Latest(cur, prev) = %v, %v; want the click held under prev", got.Visitor, ok)
	}
	other := click(cur, "y", t0.Add(time.Minute))
	other.PrevVisitor = old
	if !e.record(other) {
		t.Error("first click on another link was not first")
	}
}

// A repeat must not be held nor extend the first click's lifetime: at t+W
// the visitor's next click is first again.
func testRepeatDoesNotExtend(t *testing.T, newStore NewStore) {
	e := setup(t, newStore, 0)
	v := visitor(1)
	e.record(click(v, "r", t0))
	e.clock.Set(t0.Add(window / 2))
	rep := click(v, "r", t0.Add(window/2))
	rep.Country = "DE"
	if e.record(rep) {
		t.Fatal("repeat reported as first")
	}
	got, ok := e.latest(v, clickstore.Pseudonym{}, "r")
	if !ok || !got.Time.Equal(t0) || got.Country != "" {
		t.Errorf("Latest after a repeat = %s, %v; want the first click, unchanged", describe(got), ok)
	}
	e.clock.Set(t0.Add(window))
	if _, ok := e.latest(v, clickstore.Pseudonym{}, "r"); ok {
		t.Error("click readable at t+W after a repeat: the repeat extended its lifetime")
	}
	if !e.record(click(v, "r", t0.Add(window))) {
		t.Error("click at t+W after a repeat at t+W/2 was not first")
	}
}

// Latest must return the most recently recorded held click of the visitor,
// on the given link or on any link, and nothing for other visitors.
func testLatest(t *testing.T, newStore NewStore) {
	e := setup(t, newStore, 0)
	v := visitor(1)
	e.record(click(v, "a", t0))
	e.clock.Set(t0.Add(time.Second))
	e.record(click(v, "b", t0.Add(time.Second)))
	e.clock.Set(t0.Add(2 * time.Second))
	e.record(click(visitor(2), "c", t0.Add(2*time.Second)))
	tests := []struct {
		name string
		link string
		want string // "" for none
	}{
		{"any link", "", "b"},
		{"older link", "a", "a"},
		{"newer link", "b", "b"},
		{"another visitor's link", "c", ""},
		{"unknown link", "zzz", ""},
	}
	for _, tt := range tests {
		got, ok := e.latest(v, clickstore.Pseudonym{}, tt.link)
		if tt.want == "" {
			if ok {
				t.Errorf("%s: Latest gave %q, want none", tt.name, got.Link)
			}
			continue
		}
		if !ok || got.Link != tt.want || got.Visitor != v {
			t.Errorf("%s: Latest = %q, %v; want %q", tt.name, got.Link, ok, tt.want)
		}
	}
	if _, ok := e.latest(visitor(3), clickstore.Pseudonym{}, ""); ok {
		t.Error("Latest found a click for a visitor who never clicked")
	}
}

// Clicks read back must equal those recorded, but for PrevVisitor and the
// Time's location.
func testRoundTrip(t *testing.T, newStore NewStore) {
	e := setup(t, newStore, 0)
	full := clickstore.Click{
		Link:        "full",
		Time:        t0.In(time.FixedZone("X", 3600)),
		Visitor:     visitor(1),
		PrevVisitor: visitor(9),
		Network:     netip.MustParsePrefix("2001:db8:1::/48"),
		RawAddr:     netip.MustParseAddr("2001:db8:1::7"),
		Country:     "FR",
		Bot:         "examplebot",
		Referrer:    "news.example.com",
		Device:      "mobile",
	}
	bare := click(visitor(2), "bare", t0)
	mapped := click(visitor(3), "v4", t0)
	mapped.Network = netip.MustParsePrefix("198.51.100.0/24")
	mapped.RawAddr = netip.MustParseAddr("198.51.100.7")
	want := []clickstore.Click{full, bare, mapped}
	for _, c := range want {
		e.record(c)
	}
	got := e.all()
	if len(got) != len(want) {
		t.Fatalf("All gave %d clicks, want %d", len(got), len(want))
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || same(g, w)
		}
		if !found {
			var gs []string
			for _, g := range got {
				gs = append(gs, describe(g))
			}
			t.Errorf("click %s not read back intact; got %s", describe(w), strings.Join(gs, "; "))
		}
		if g, ok := e.latest(w.Visitor, clickstore.Pseudonym{}, ""); !ok || !same(g, w) {
			t.Errorf("Latest = %s, %v; want %s", describe(g), ok, describe(w))
		}
	}
}

// EraseVisitor must destroy exactly that visitor's clicks and count them.
func testEraseVisitor(t *testing.T, newStore NewStore) {
	e := setup(t, newStore, 0)
	v, w := visitor(1), visitor(2)
	for _, l := range []string{"a", "b", "c"} {
		e.record(click(v, l, t0))
	}
	e.record(click(w, "a", t0))
	n, err := e.store.EraseVisitor(e.ctx, v)
	if err != nil || n != 3 {
		t.Fatalf("EraseVisitor = %d, %v; want 3, nil", n, shown(err))
	}
	if _, ok := e.latest(v, clickstore.Pseudonym{}, ""); ok {
		t.Error("erased visitor's click still readable")
	}
	if _, ok := e.latest(w, clickstore.Pseudonym{}, "a"); !ok {
		t.Error("another visitor's click was erased")
	}
	if !e.record(click(v, "a", t0)) {
		t.Error("erased visitor's next click was not first")
	}
	if n, err := e.store.EraseVisitor(e.ctx, visitor(7)); err != nil || n != 0 {
		t.Errorf("EraseVisitor(unknown) = %d, %v; want 0, nil", n, shown(err))
	}
}

// EraseLink must destroy exactly the clicks on that link and count them,
// and none on a link whose ID begins or ends like it, or is a prefix of it.
func testEraseLink(t *testing.T, newStore NewStore) {
	e := setup(t, newStore, 0)
	others := []string{"kept", "gon", "gone/2", "gonE", "xgone"}
	for i := range 20 {
		e.record(click(visitor(i), "gone", t0))
		e.record(click(visitor(i), others[i%len(others)], t0))
	}
	n, err := e.store.EraseLink(e.ctx, "gone")
	if err != nil {
		t.Fatalf("EraseLink: %v", shown(err))
	}
	if n != 20 {
		t.Errorf("EraseLink = %d; want 20, the clicks on that link alone", n)
	}
	for _, c := range e.all() {
		if c.Link == "gone" {
			t.Fatalf("click on an erased link still held: %+v", c)
		}
	}
	if n := len(e.all()); n != 20 {
		t.Errorf("%d clicks left, want the 20 on the other links: EraseLink(\"gone\") erased a click on another link (%q)", n, others)
	}
	if n, err := e.store.EraseLink(e.ctx, "never"); err != nil || n != 0 {
		t.Errorf("EraseLink(unknown) = %d, %v; want 0, nil", n, shown(err))
	}
}

// Once the store's clock has passed a click's deadline, setting the clock
// back must not make the click readable again.
func testClockBack(t *testing.T, newStore NewStore) {
	e := setup(t, newStore, 0)
	v := visitor(1)
	e.record(click(v, "x", t0))
	e.clock.Set(t0.Add(window + time.Hour))
	if _, ok := e.latest(v, clickstore.Pseudonym{}, ""); ok {
		t.Fatal("click readable after its deadline")
	}
	e.clock.Set(t0.Add(time.Minute))
	if _, ok := e.latest(v, clickstore.Pseudonym{}, ""); ok {
		t.Error("click readable again after the clock went back")
	}
	if n := len(e.all()); n != 0 {
		t.Errorf("All gave %d clicks after the clock went back, want 0", n)
	}
}

// Sweep must destroy expired clicks and report what it still holds.
func testSweep(t *testing.T, newStore NewStore) {
	e := setup(t, newStore, 0)
	for i := range 5 {
		e.record(click(visitor(i), "s", t0))
	}
	e.clock.Set(t0.Add(time.Minute))
	st, err := e.store.Sweep(e.ctx, e.clock.Now())
	if err != nil || st.Held != 5 || st.Deleted != 0 || st.Oldest != time.Minute {
		t.Errorf("Sweep before the deadline = %+v, %v; want 5 held, 0 deleted, oldest 1m", st, shown(err))
	}
	e.clock.Set(t0.Add(window))
	st, err = e.store.Sweep(e.ctx, e.clock.Now())
	if err != nil || st.Held != 0 || st.Deleted != 5 || st.Oldest != 0 {
		t.Errorf("Sweep at the deadline = %+v, %v; want 0 held, 5 deleted", st, shown(err))
	}
}

// Sweep's report must be exact, to the nanosecond, at the instant it
// sweeps at: now, or the store's clock if that is later. A now behind the
// store's clock reports ages by the store's clock; a now ahead of it
// destroys what has expired by then and reports ages at now.
func testExactSweepReport(t *testing.T, newStore NewStore) {
	e := setup(t, newStore, 0)
	second := t0.Add(1500*time.Millisecond + 7)
	e.record(click(visitor(1), "s", t0))
	e.clock.Set(second)
	e.record(click(visitor(2), "s", second))
	e.clock.Set(t0.Add(2 * time.Minute))
	for _, now := range []time.Time{t0.Add(-3 * window), t0.Add(2*time.Minute - time.Nanosecond), t0.Add(2 * time.Minute)} {
		st, err := e.store.Sweep(e.ctx, now)
		if want := (retention.SweepStats{Held: 2, Oldest: 2 * time.Minute}); err != nil || st != want {
			t.Errorf("Sweep at %v, the store's clock at t0+2m = %+v, %v; want %+v (ages by the store's clock)", now.Sub(t0), st, shown(err), want)
		}
	}
	ahead := t0.Add(2*time.Minute + 5*time.Second + 3)
	st, err := e.store.Sweep(e.ctx, ahead)
	if want := (retention.SweepStats{Held: 2, Oldest: ahead.Sub(t0)}); err != nil || st != want {
		t.Errorf("Sweep at t0+%v, ahead of the store's clock = %+v, %v; want %+v (ages at now)", ahead.Sub(t0), st, shown(err), want)
	}
	ahead = t0.Add(window + time.Nanosecond)
	st, err = e.store.Sweep(e.ctx, ahead)
	if want := (retention.SweepStats{Deleted: 1, Held: 1, Oldest: ahead.Sub(second)}); err != nil || st != want {
		t.Errorf("Sweep at t0+W+1ns, ahead of the store's clock = %+v, %v; want %+v (the first click destroyed, the second's age at now)", st, shown(err), want)
	}
}

// A sweep at any time after a click's window, even past 2262 where Unix
// nanoseconds overflow, destroys it.
func testSweepFarFuture(t *testing.T, newStore NewStore) {
	e := setup(t, newStore, 0)
	e.record(click(visitor(1), "s", t0))
	st, err := e.store.Sweep(e.ctx, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))
	if err != nil || st.Deleted != 1 || st.Held != 0 {
		t.Errorf("Sweep in the year 9999 = %+v, %v; want 1 deleted, 0 held", st, shown(err))
	}
}

// A nil context is the caller's bug, which Go lets compile: every method
// that takes one returns an error, without a panic, and the store still
// works afterwards (a panic with a lock or a connection held would leave
// it hung).
func testNilContext(t *testing.T, newStore NewStore) {
	e := setup(t, newStore, 0)
	var nilCtx context.Context
	v := visitor(1)
	calls := []struct {
		op   string
		call func() error
	}{
		{"Record", func() error { _, err := e.store.Record(nilCtx, click(v, "n", t0)); return err }},
		{"Latest", func() error { _, _, err := e.store.Latest(nilCtx, v, clickstore.Pseudonym{}, ""); return err }},
		{"All", func() error {
			for _, err := range e.store.All(nilCtx) {
				return err
			}
			return nil
		}},
		{"EraseVisitor", func() error { _, err := e.store.EraseVisitor(nilCtx, v); return err }},
		{"EraseLink", func() error { _, err := e.store.EraseLink(nilCtx, "n"); return err }},
		{"Sweep", func() error { _, err := e.store.Sweep(nilCtx, t0); return err }},
	}
	for _, c := range calls {
		err, panicked := func() (err error, panicked any) {
			defer func() { panicked = recover() }()
			return c.call(), nil
		}()
		switch {
		case panicked != nil:
			t.Errorf("%s with a nil context panicked", c.op)
		case err == nil:
			t.Errorf("%s with a nil context = nil error; want an error", c.op)
		}
	}
	if !e.record(click(v, "n", t0)) {
		t.Error("Record after the calls with a nil context: not first")
	}
}

// A context that is done (a request the client gave up on, a deadline
// passed) must end every method with an error wrapping its error, and a
// Record so refused must hold nothing.
func testDoneContext(t *testing.T, newStore NewStore) {
	e := setup(t, newStore, 0)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	v := visitor(1)
	e.record(click(v, "held", t0))
	calls := []struct {
		op   string
		call func() error
	}{
		{"Record", func() error { _, err := e.store.Record(done, click(v, "d", t0)); return err }},
		{"Latest", func() error { _, _, err := e.store.Latest(done, v, clickstore.Pseudonym{}, ""); return err }},
		{"All", func() error {
			for _, err := range e.store.All(done) {
				if err != nil {
					return err
				}
			}
			return nil
		}},
		{"EraseVisitor", func() error { _, err := e.store.EraseVisitor(done, visitor(2)); return err }},
		{"EraseLink", func() error { _, err := e.store.EraseLink(done, "d"); return err }},
		{"Sweep", func() error { _, err := e.store.Sweep(done, t0); return err }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a done context = %v; want an error wrapping context.Canceled", c.op, shown(err))
		}
	}
	if !e.record(click(v, "d", t0)) {
		t.Error("Record with a done context held its click: the next one was not first")
	}
}

// Invalid clicks must be rejected with ErrInvalidClick and not held.
func testInvalid(t *testing.T, newStore NewStore) {
	e := setup(t, newStore, 0)
	good := click(visitor(1), "ok", t0)
	tests := []struct {
		name string
		edit func(*clickstore.Click)
	}{
		{"empty link", func(c *clickstore.Click) { c.Link = "" }},
		{"long link", func(c *clickstore.Click) { c.Link = string(make([]byte, clickstore.MaxLinkLen+1)) }},
		{"zero time", func(c *clickstore.Click) { c.Time = time.Time{} }},
		{"zero visitor", func(c *clickstore.Click) { c.Visitor = clickstore.Pseudonym{} }},
		{"zero network", func(c *clickstore.Click) { c.Network = netip.Prefix{} }},
		{"unmasked network", func(c *clickstore.Click) { c.Network = netip.MustParsePrefix("192.0.2.7/24") }},
		{"raw address outside network", func(c *clickstore.Click) { c.RawAddr = netip.MustParseAddr("203.0.113.1") }},
		{"bad country", func(c *clickstore.Click) { c.Country = "de" }},
		{"conversion", func(c *clickstore.Click) { c.Kind = clickstore.KindConversion }},
		{"unknown kind", func(c *clickstore.Click) { c.Kind = 9 }},
		// A referrer that is the address itself would be kept as given.
		{"referrer an address", func(c *clickstore.Click) { c.Referrer = "198.51.100.7" }},
		{"referrer spelling an address", func(c *clickstore.Click) { c.Referrer = "198-51-100-7.sslip.io" }},
		{"referrer an IPv6 literal in a URL", func(c *clickstore.Click) { c.Referrer = "https://[2001:db8::7]:8443/x" }},
	}
	for _, tt := range tests {
		c := good
		tt.edit(&c)
		first, err := e.store.Record(e.ctx, c)
		if !errors.Is(err, clickstore.ErrInvalidClick) || first {
			t.Errorf("%s: Record = %v, %v; want an error wrapping ErrInvalidClick", tt.name, first, shown(err))
		}
	}
	if n := len(e.all()); n != 0 {
		t.Errorf("%d invalid clicks held", n)
	}
	if _, err := e.store.EraseLink(e.ctx, ""); !errors.Is(err, clickstore.ErrInvalidClick) {
		t.Errorf("EraseLink(\"\") = %v; want an error wrapping ErrInvalidClick", shown(err))
	}
}

// A store at capacity must refuse new clicks with ErrFull, still report
// repeats, evict nothing, and take clicks again once some expire.
func testFull(t *testing.T, newStore NewStore) {
	const capacity = 3
	e := setup(t, newStore, capacity)
	for i := range capacity {
		e.record(click(visitor(i), "f", t0))
	}
	first, err := e.store.Record(e.ctx, click(visitor(capacity), "f", t0))
	if !errors.Is(err, clickstore.ErrFull) || first {
		t.Fatalf("Record beyond capacity = %v, %v; want an error wrapping ErrFull", first, shown(err))
	}
	if e.record(click(visitor(0), "f", t0)) {
		t.Error("repeat in a full store reported as first")
	}
	for i := range capacity {
		if _, ok := e.latest(visitor(i), clickstore.Pseudonym{}, "f"); !ok {
			t.Errorf("click %d evicted from a full store", i)
		}
	}
	e.clock.Set(t0.Add(window))
	if first, err := e.store.Record(e.ctx, click(visitor(capacity), "f", t0.Add(window))); err != nil || !first {
		t.Errorf("Record after the held clicks expired = %v, %v; want first: expired clicks still count against the capacity", first, shown(err))
	}
}

// After Close, every method must fail with ErrClosed, nothing may be read,
// and Close again must return nil.
func testClosed(t *testing.T, newStore NewStore) {
	e := setup(t, newStore, 0)
	v := visitor(1)
	e.record(click(v, "x", t0))
	if err := e.store.Close(); err != nil {
		t.Fatalf("Close: %v", shown(err))
	}
	if err := e.store.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", shown(err))
	}
	check := func(op string, err error) {
		if !errors.Is(err, clickstore.ErrClosed) {
			t.Errorf("%s after Close = %v; want an error wrapping ErrClosed", op, shown(err))
		}
	}
	_, err := e.store.Record(e.ctx, click(visitor(2), "x", t0))
	check("Record", err)
	c, ok, err := e.store.Latest(e.ctx, v, clickstore.Pseudonym{}, "")
	check("Latest", err)
	if ok || c != (clickstore.Click{}) {
		t.Errorf("Latest after Close returned a click: %+v", c)
	}
	for c, err := range e.store.All(e.ctx) {
		check("All", err)
		if c != (clickstore.Click{}) {
			t.Errorf("All after Close returned a click: %+v", c)
		}
	}
	_, err = e.store.EraseVisitor(e.ctx, v)
	check("EraseVisitor", err)
	_, err = e.store.EraseLink(e.ctx, "x")
	check("EraseLink", err)
	_, err = e.store.Sweep(e.ctx, t0)
	check("Sweep", err)
}

// shown is err as the suite prints it in a failure, with every address
// in its text masked as the storage packages mask theirs (errmask): the
// suite hands a store only its own clicks, but a store's error may name
// its server, and a failure message goes to a log like any error.
func shown(err error) error {
	errmask.Wrap(&err)
	return err
}
