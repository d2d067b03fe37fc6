package publish_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// fault is one way a Backend a user writes can be wrong.
type fault string

const (
	right        fault = ""
	dropDevice   fault = "drops-device"     // no Device breakdown at all
	dropEmpty    fault = "drops-empty"      // values "" (not known) are not kept
	sumRange     fault = "sums-range"       // range visitors: the sum of the buckets'
	sumCoarse    fault = "sums-coarse"      // hour and day visitors: the sum of their minutes'
	uniqueIsVis  fault = "unique-visitors"  // visitors: the count of Unique clicks
	botVisitors  fault = "bot-visitors"     // bots are counted as visitors
	fineNetwork  fault = "fine-network"     // networks kept as the Click gives them
	naiveNetwork fault = "naive-network"    // networks cut to /24 and /48, 6to4 left whole
	noRetention  fault = "no-retention"     // Sweep drops nothing
	sweepCoarse  fault = "sweep-coarse"     // Sweep drops every granularity by the minute retention
	echoInput    fault = "echo-input"       // errors quote the link
	inclusiveTo  fault = "inclusive-to"     // a bucket starting at To is selected
	doubleOnPeer fault = "double-on-shared" // a second instance counts its clicks twice
	localTime    fault = "local-buckets"    // bucket starts in the query's zone, not UTC
	countRefused fault = "counts-refused"   // a click Validate refuses is counted before the error
	convAsClick  fault = "conversion-click" // conversions counted as clicks
	ignoreCancel fault = "ignores-cancel"   // Cells answers under a done ctx
	sweepFails   fault = "sweep-fails"      // Sweep fails with an error naming its server
)

// record is one Add, as the map backend keeps it.
type record struct {
	c       clickstore.Click
	n       aggregate.Counts
	network netip.Prefix
}

// store is the storage that instances of the map backend share.
type store struct {
	mu   sync.Mutex
	recs map[aggregate.Granularity][]record
}

// mapBackend is a Backend a user could write in an afternoon: every Add
// is kept as a record per granularity, and Cells computes the cells from
// the records with exact distinct visitors. With a fault set, it is wrong
// in that one way.
type mapBackend struct {
	s    *store
	f    fault
	now  func() time.Time
	peer bool
}

var (
	_ aggregate.Backend   = (*mapBackend)(nil)
	_ retention.Sweepable = (*mapBackend)(nil)
)

func newMapBackend(f fault, now func() time.Time, shared *mapBackend) *mapBackend {
	if now == nil {
		now = time.Now
	}
	if shared != nil {
		return &mapBackend{s: shared.s, f: f, now: now, peer: true}
	}
	return &mapBackend{s: &store{recs: map[aggregate.Granularity][]record{}}, f: f, now: now}
}

var allGranularities = []aggregate.Granularity{aggregate.Minute, aggregate.Hour, aggregate.Day}

func (b *mapBackend) Add(ctx context.Context, c clickstore.Click, u clickstore.Uniqueness) error {
	if ctx == nil {
		return errors.New("mapbackend: add: nil context")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mapbackend: add: %w", err)
	}
	if err := c.Validate(); err != nil {
		if b.f == countRefused && c.Link != "" && len(c.Link) <= clickstore.MaxLinkLen {
			b.s.mu.Lock()
			b.s.recs[aggregate.Minute] = append(b.s.recs[aggregate.Minute], record{c: c, n: aggregate.CountsOf(&c, u), network: c.Network.Masked()})
			b.s.mu.Unlock()
		}
		if b.f == echoInput {
			return fmt.Errorf("mapbackend: add click on link %q: %w", c.Link, err)
		}
		return fmt.Errorf("mapbackend: add: %w", err)
	}
	if u > clickstore.Repeat {
		return errors.New("mapbackend: add: unknown uniqueness")
	}
	r := record{c: c, n: aggregate.CountsOf(&c, u), network: aggregate.NetworkOf(c.Network, ipmask.Default)}
	if b.f == convAsClick && c.Kind == clickstore.KindConversion {
		cc := c
		cc.Kind = clickstore.KindClick
		r.n = aggregate.CountsOf(&cc, u)
	}
	switch b.f {
	case fineNetwork:
		r.network = c.Network
	case naiveNetwork:
		a := c.Network.Addr().Unmap()
		bits := 24
		if a.Is6() {
			bits = 48
		}
		r.network = netip.PrefixFrom(a, min(bits, c.Network.Bits())).Masked()
	}
	times := 1
	if b.f == doubleOnPeer && b.peer {
		times = 2
	}
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	for range times {
		for _, g := range allGranularities {
			b.s.recs[g] = append(b.s.recs[g], r)
		}
	}
	return nil
}

// group is one cell being computed.
type group struct {
	n        aggregate.Counts
	visitors map[clickstore.Pseudonym]bool
}

func (gr *group) add(r record, f fault) {
	if gr.visitors == nil {
		gr.visitors = map[clickstore.Pseudonym]bool{}
	}
	gr.n = gr.n.Add(r.n)
	if r.c.Bot == "" || f == botVisitors {
		gr.visitors[r.c.Visitor] = true
	}
}

func (gr *group) count(f fault) uint64 {
	if f == uniqueIsVis {
		return gr.n.Unique
	}
	return uint64(len(gr.visitors))
}

type cellKey struct {
	link  string
	start time.Time
	dim   aggregate.Dimension
	value string
}

func (b *mapBackend) Cells(ctx context.Context, q aggregate.Query) ([]aggregate.Cell, error) {
	if ctx == nil {
		return nil, errors.New("mapbackend: cells: nil context")
	}
	if err := ctx.Err(); err != nil && b.f != ignoreCancel {
		return nil, fmt.Errorf("mapbackend: cells: %w", err)
	}
	zone := q.From.Location()
	q, err := q.Normalize()
	if err != nil {
		if b.f == echoInput {
			return nil, fmt.Errorf("mapbackend: cells of link %q: %w", q.Link, err)
		}
		return nil, err
	}
	width := q.Granularity.Duration()
	b.s.mu.Lock()
	recs := slices.Clone(b.s.recs[q.Granularity])
	minutes := slices.Clone(b.s.recs[aggregate.Minute])
	b.s.mu.Unlock()
	in := func(start time.Time) bool {
		if b.f == inclusiveTo {
			return !start.Before(q.From) && !start.After(q.To)
		}
		return !start.Before(q.From) && start.Before(q.To)
	}
	groups := map[cellKey]*group{}
	ranges := map[string]*group{}
	put := func(k cellKey, r record) {
		gr := groups[k]
		if gr == nil {
			gr = new(group)
			groups[k] = gr
		}
		gr.add(r, b.f)
	}
	for _, r := range recs {
		start := q.Granularity.Start(r.c.Time)
		if q.Link != "" && r.c.Link != q.Link || !in(start) {
			continue
		}
		put(cellKey{r.c.Link, start, aggregate.Total, ""}, r)
		if r.c.Country != "" || b.f != dropEmpty {
			put(cellKey{r.c.Link, start, aggregate.Country, r.c.Country}, r)
		}
		put(cellKey{r.c.Link, start, aggregate.Network, r.network.String()}, r)
		if r.c.Referrer != "" || b.f != dropEmpty {
			put(cellKey{r.c.Link, start, aggregate.Referrer, r.c.Referrer}, r)
		}
		if b.f != dropDevice {
			put(cellKey{r.c.Link, start, aggregate.Device, r.c.Device}, r)
		}
		ra := ranges[r.c.Link]
		if ra == nil {
			ra = new(group)
			ranges[r.c.Link] = ra
		}
		ra.add(r, b.f)
	}
	var out []aggregate.Cell
	var bucketSum = map[string]uint64{}
	for k, gr := range groups {
		start := k.start
		if b.f == localTime {
			start = start.In(zone)
		}
		c := aggregate.Cell{Scope: aggregate.ScopeBucket, Link: k.link, Granularity: q.Granularity, Start: start, End: start.Add(width),
			Dimension: k.dim, Value: k.value, Counts: gr.n, Visitors: gr.count(b.f)}
		if b.f == sumCoarse && q.Granularity != aggregate.Minute {
			// The coarse bucket's visitors as the sum of its minutes'.
			per := map[time.Time]map[clickstore.Pseudonym]bool{}
			for _, r := range minutes {
				if r.c.Link != k.link || q.Granularity.Start(r.c.Time) != k.start || r.c.Bot != "" || !matches(r, k) {
					continue
				}
				m := aggregate.Minute.Start(r.c.Time)
				if per[m] == nil {
					per[m] = map[clickstore.Pseudonym]bool{}
				}
				per[m][r.c.Visitor] = true
			}
			c.Visitors = 0
			for _, v := range per {
				c.Visitors += uint64(len(v))
			}
		}
		if k.dim == aggregate.Total {
			bucketSum[k.link] += c.Visitors
		}
		out = append(out, c)
	}
	for link, ra := range ranges {
		c := aggregate.Cell{Scope: aggregate.ScopeRange, Link: link, Granularity: q.Granularity, Start: q.From, End: q.To,
			Dimension: aggregate.Total, Counts: ra.n, Visitors: ra.count(b.f)}
		if b.f == sumRange {
			c.Visitors = bucketSum[link]
		}
		out = append(out, c)
	}
	return out, nil
}

// matches reports whether r lands in the cell of dimension value k.
func matches(r record, k cellKey) bool {
	switch k.dim {
	case aggregate.Country:
		return r.c.Country == k.value
	case aggregate.Network:
		return r.network.String() == k.value
	case aggregate.Referrer:
		return r.c.Referrer == k.value
	case aggregate.Device:
		return r.c.Device == k.value
	}
	return true
}

// retentionOf is the documented default retention of each granularity.
var retentionOf = map[aggregate.Granularity]time.Duration{
	aggregate.Minute: aggregate.DefaultMinuteRetention,
	aggregate.Hour:   aggregate.DefaultHourRetention,
	aggregate.Day:    aggregate.DefaultDayRetention,
}

func (b *mapBackend) Sweep(ctx context.Context, now time.Time) (retention.SweepStats, error) {
	var st retention.SweepStats
	if ctx == nil {
		return st, errors.New("mapbackend: sweep: nil context")
	}
	if err := ctx.Err(); err != nil {
		return st, fmt.Errorf("mapbackend: sweep: %w", err)
	}
	if b.f == noRetention {
		return st, nil
	}
	if b.f == sweepFails { // as a driver's error does
		return st, errors.New("mapbackend: sweep: dial tcp 203.0.113.9:5432: connection refused")
	}
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	for _, g := range allGranularities {
		ret := retentionOf[g]
		if b.f == sweepCoarse {
			ret = aggregate.DefaultMinuteRetention
		}
		if ret == aggregate.KeepForever {
			st.Held += len(b.s.recs[g])
			continue
		}
		kept := b.s.recs[g][:0]
		for _, r := range b.s.recs[g] {
			if !now.Before(g.Start(r.c.Time).Add(g.Duration() + ret)) {
				st.Deleted++
				continue
			}
			kept = append(kept, r)
		}
		b.s.recs[g] = kept
		st.Held += len(kept)
	}
	return st, nil
}

func (b *mapBackend) EraseLink(ctx context.Context, link string) (int, error) {
	if ctx == nil {
		return 0, errors.New("mapbackend: erase link: nil context")
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("mapbackend: erase link: %w", err)
	}
	if link == "" || len(link) > clickstore.MaxLinkLen {
		if b.f == echoInput {
			return 0, fmt.Errorf("mapbackend: erase link %q: bad link", link)
		}
		return 0, errors.New("mapbackend: erase link: empty or too long")
	}
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	n := 0
	for g, rs := range b.s.recs {
		kept := rs[:0]
		for _, r := range rs {
			if r.c.Link == link {
				n++
				continue
			}
			kept = append(kept, r)
		}
		b.s.recs[g] = kept
	}
	return n, nil
}
