package tally_test

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// secret is user input that no error may echo.
const secret = "s3cr3t-198.51.100.7-"

// checkErr checks err is an error naming the package and echoing nothing
// of the input.
func checkErr(t *testing.T, name string, err error) {
	t.Helper()
	if !assert.Error(t, err, name) {
		return
	}
	assert.True(t, strings.HasPrefix(err.Error(), "aggregate"), "%s: %q does not name the package", name, err)
	assert.NotContains(t, err.Error(), "s3cr3t", name)
	ipmasktest.AssertNoRawIPError(t, ipmask.Default, err, name)
}

// TestBadInputToEveryFunction gives every exported function of the package
// input of each bad kind, links and values holding user text and
// addresses, and checks each answers with an error naming the package and
// echoing none of it, without a panic, and that the Rollup still counts.
func TestBadInputToEveryFunction(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC)
	r, err := aggregate.New(nil)
	require.NoError(t, err)
	defer r.Close()
	long := strings.Repeat(secret, clickstore.MaxLinkLen/len(secret)+2)
	bad := []clickstore.Click{
		{},
		click(long, t0, 1),
		click(secret, t0, 1),
		click("ok", time.Time{}, 1),
		click("ok", time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), 1),
		click("ok", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), 1),
		{Link: "ok", Time: t0, Network: netip.MustParsePrefix("198.51.100.0/24")},                               // zero visitor
		{Link: "ok", Time: t0, Visitor: visitor(1), Network: netip.MustParsePrefix("198.51.100.7/24")},          // not masked
		{Link: "ok", Time: t0, Visitor: visitor(1), Network: netip.MustParsePrefix("198.51.100.0/24"), Kind: 9}, // unknown kind
	}
	withText := click("ok", t0, 1)
	for _, f := range []func(*clickstore.Click){
		func(c *clickstore.Click) { c.Country = secret },
		func(c *clickstore.Click) { c.Referrer = secret + ".example" },
		func(c *clickstore.Click) { c.Referrer = "198.51.100.7" },
		func(c *clickstore.Click) { c.Device = strings.Repeat(secret, 20) },
		func(c *clickstore.Click) { c.Bot = secret },
		func(c *clickstore.Click) { c.Link = "\x00" + secret },
		func(c *clickstore.Click) { c.Link = "\xff" + secret },
	} {
		c := withText
		f(&c)
		bad = append(bad, c)
	}
	for i, c := range bad {
		assert.NotPanics(t, func() { checkErr(t, "Add of bad click "+string(rune('A'+i)), r.Add(ctx, c, clickstore.Unique)) })
	}
	for _, u := range []clickstore.Uniqueness{3, 200, 255} {
		checkErr(t, "Add of unknown uniqueness", r.Add(ctx, click("ok", t0, 1), u))
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	checkErr(t, "Add with done ctx", r.Add(done, click("ok", t0, 1), clickstore.Unique))

	for _, link := range []string{"", long} {
		_, err := r.EraseLink(ctx, link)
		checkErr(t, "EraseLink", err)
	}
	_, err = r.EraseLink(done, "ok")
	checkErr(t, "EraseLink done ctx", err)
	_, err = r.Sweep(ctx, time.Time{})
	checkErr(t, "Sweep zero time", err)
	_, err = r.Sweep(done, t0)
	checkErr(t, "Sweep done ctx", err)

	queries := []aggregate.Query{
		{},
		{Link: long, From: t0, To: t0.Add(time.Hour)},
		{Link: "ok", From: t0, To: t0},
		{Link: "ok", From: t0.Add(time.Hour), To: t0},
		{Link: "ok", From: t0, To: t0.Add(time.Hour), K: -1},
		{Link: "ok", From: t0, To: t0.Add(time.Hour), Granularity: 4},
		{Link: "ok", From: t0, To: t0.Add(time.Hour), Granularity: 255},
		{Link: "ok", To: t0},
	}
	for _, q := range queries {
		_, err := q.Normalize()
		checkErr(t, "Normalize", err)
		_, err = r.Cells(ctx, q)
		checkErr(t, "Cells", err)
		_, err = r.Report(ctx, q)
		checkErr(t, "Report", err)
		_, err = aggregate.Publish(ctx, r, q)
		checkErr(t, "Publish", err)
	}
	_, err = r.Cells(done, aggregate.Query{Link: "ok", From: t0, To: t0.Add(time.Hour)})
	checkErr(t, "Cells done ctx", err)

	for _, o := range []aggregate.Options{
		{NoMinute: true, NoHour: true, NoDay: true},
		{MinuteRetention: -1}, {HourRetention: -time.Hour}, {DayRetention: -1},
		{MaxValues: -1}, {MaxValues: aggregate.MaxMaxValues + 1},
		{Precision: 7}, {Precision: 19}, {Precision: 255},
		{NetworkPolicy: mustPolicy(t, 32, 128)}, {NetworkPolicy: mustPolicy(t, 25, 48)}, {NetworkPolicy: mustPolicy(t, 24, 64)},
	} {
		_, err := aggregate.New(&o)
		checkErr(t, "New", err)
	}
	_, err = aggregate.NetworkPolicy(mustPolicy(t, 32, 128))
	checkErr(t, "NetworkPolicy", err)

	// Merges that are refused change nothing.
	other, err := aggregate.New(&aggregate.Options{NoCountry: true})
	require.NoError(t, err)
	defer other.Close()
	require.NoError(t, other.Add(ctx, click("ok", t0, 2), clickstore.Unique))
	p8, err := aggregate.New(&aggregate.Options{Precision: 8})
	require.NoError(t, err)
	defer p8.Close()
	for _, o := range []*aggregate.Rollup{nil, r, other, p8} {
		checkErr(t, "Merge", r.Merge(o))
	}

	var fail failWriter
	checkErr(t, "WriteJSON failing writer", aggregate.WriteJSON(&fail, aggregate.Report{Cells: []aggregate.Cell{{Link: secret}}}))
	checkErr(t, "WriteCSV failing writer", aggregate.WriteCSV(&fail, aggregate.Report{Cells: []aggregate.Cell{{Link: secret}}}))

	assert.NotPanics(t, func() {
		for _, g := range []aggregate.Granularity{0, 4, 255} {
			assert.Zero(t, g.Duration())
			assert.True(t, g.Start(t0).IsZero())
			assert.NotEmpty(t, g.String())
		}
		assert.NotEmpty(t, aggregate.Dimension(200).String())
		assert.NotEmpty(t, aggregate.Scope(200).String())
		for _, n := range []netip.Prefix{{}, netip.PrefixFrom(netip.Addr{}, 3), netip.PrefixFrom(netip.MustParseAddr("198.51.100.7"), 40)} {
			_ = aggregate.NetworkOf(n, ipmask.Default)
			_ = aggregate.NetworkOf(n, ipmask.Policy{})
		}
	})

	// Nothing bad was counted, and the Rollup still counts.
	cells, err := r.Cells(ctx, aggregate.Query{From: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	assert.Empty(t, cells)
	require.NoError(t, r.Add(ctx, click("ok", t0, 1), clickstore.Unique))
	_, rc := totals(t, r, aggregate.Query{Link: "ok", From: t0.Add(-24 * time.Hour), To: t0.Add(24 * time.Hour)}) // days: kept for ever, whatever the real clock
	assert.Equal(t, uint64(1), rc.Clicks)
}

func mustPolicy(t *testing.T, v4, v6 int) ipmask.Policy {
	t.Helper()
	p, err := ipmask.New(v4, v6)
	require.NoError(t, err)
	return p
}

type failWriter struct{}

func (*failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// cellsBackend answers every query with its cells.
type cellsBackend struct{ cells []aggregate.Cell }

func (b cellsBackend) Add(context.Context, clickstore.Click, clickstore.Uniqueness) error { return nil }
func (b cellsBackend) Cells(context.Context, aggregate.Query) ([]aggregate.Cell, error) {
	return append([]aggregate.Cell(nil), b.cells...), nil
}

// TestPublishNeverShowsAnAddressABackendGives has a Backend answer with
// Network values that are addresses in every form ipmasktest knows, and
// checks Publish's documented promise ("a network in a report is never
// finer than ipmask.Default keeps, whatever b returns"): neither the
// report nor its JSON and CSV hold an address ipmask.Default would mask.
func TestPublishNeverShowsAnAddressABackendGives(t *testing.T) {
	t0 := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range ipmasktest.Cases() {
		start := t0
		cells := []aggregate.Cell{
			{Link: "l", Granularity: aggregate.Day, Start: start, End: start.Add(24 * time.Hour), Counts: aggregate.Counts{Clicks: 10}, Visitors: 10},
			{Link: "l", Granularity: aggregate.Day, Start: start, End: start.Add(24 * time.Hour), Dimension: aggregate.Network, Value: c.Text, Counts: aggregate.Counts{Clicks: 10}, Visitors: 10},
			{Scope: aggregate.ScopeRange, Link: "l", Granularity: aggregate.Day, Start: start, End: start.Add(24 * time.Hour), Counts: aggregate.Counts{Clicks: 10}, Visitors: 10},
		}
		rep, err := aggregate.Publish(context.Background(), cellsBackend{cells}, aggregate.Query{From: start, To: start.Add(24 * time.Hour)})
		require.NoError(t, err)
		var net, total uint64
		for _, x := range rep.Cells {
			if x.Scope == aggregate.ScopeBucket && x.Link == "l" {
				switch x.Dimension {
				case aggregate.Total:
					total += x.Clicks
				case aggregate.Network:
					net += x.Clicks
				}
			}
		}
		assert.Equal(t, uint64(10), total, "%s: total", c.Name)
		assert.Equal(t, total, net, "%s: the network breakdown no longer adds up", c.Name)
		var js, cs bytes.Buffer
		require.NoError(t, aggregate.WriteJSON(&js, rep))
		require.NoError(t, aggregate.WriteCSV(&cs, rep))
		ipmasktest.AssertNoRawIP(t, ipmask.Default, js.String(), "JSON of a report of network %s (%q)", c.Name, c.Text)
		ipmasktest.AssertNoRawIP(t, ipmask.Default, cs.String(), "CSV of a report of network %s (%q)", c.Name, c.Text)
	}
}
