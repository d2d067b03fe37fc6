package window_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/retention"
)

// mapStore is the store a user of the library writes for a backend of
// their own: a slice of clicks under one mutex, with a high-water clock. It
// follows the clickstore.Store contract, unless bug names one way to break
// it (see bugs).
type mapStore struct {
	bug      string
	now      func() time.Time
	window   time.Duration
	capacity int

	mu     sync.Mutex
	high   time.Time // the store's clock never goes back
	held   []entry
	closed bool
}

type entry struct {
	c   clickstore.Click
	put time.Time // the store's clock when c was recorded
}

var _ clickstore.Store = (*mapStore)(nil)

func newMapStore(bug string, now func() time.Time, p retention.Policy, capacity int) *mapStore {
	if now == nil {
		now = time.Now
	}
	if capacity == 0 {
		capacity = 1 << 20
	}
	return &mapStore{bug: bug, now: now, window: p.Window(), capacity: capacity}
}

func (s *mapStore) clock() time.Time {
	n := s.now()
	if s.bug == "wall clock" {
		n = time.Now()
	}
	if s.bug == "clock goes back" {
		return n
	}
	if n.After(s.high) {
		s.high = n
	}
	return s.high
}

func (s *mapStore) live(e entry, now time.Time) bool {
	deadline := e.put.Add(s.window)
	switch s.bug {
	case "kept 1ns too long":
		return !now.After(deadline)
	case "gone 1ns early":
		return now.Before(deadline.Add(-1))
	}
	return now.Before(deadline)
}

// expire drops what expired at now and reports how many.
func (s *mapStore) expire(now time.Time) int {
	if s.bug == "clock goes back" {
		return 0 // only Sweep deletes, reads filter
	}
	n := len(s.held)
	s.held = slices.DeleteFunc(s.held, func(e entry) bool { return !s.live(e, now) })
	return n - len(s.held)
}

func (s *mapStore) enter(ctx context.Context, op string) error {
	if ctx == nil {
		if s.bug == "ignores ctx" {
			return nil
		}
		return errors.New("mapstore: " + op + ": nil context")
	}
	if err := ctx.Err(); err != nil && s.bug != "ignores a done ctx" {
		return fmt.Errorf("mapstore: %s: %w", op, err)
	}
	if s.closed && s.bug != "readable after Close" {
		return fmt.Errorf("mapstore: %s: %w", op, clickstore.ErrClosed)
	}
	return nil
}

// same reports whether e is a click of the visitor known as v or prev
// (either may be zero).
func (s *mapStore) same(e entry, v, prev clickstore.Pseudonym) bool {
	if !v.IsZero() && e.c.Visitor == v {
		return true
	}
	return s.bug != "forgets PrevVisitor" && !prev.IsZero() && e.c.Visitor == prev
}

func (s *mapStore) Record(ctx context.Context, c clickstore.Click) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(ctx, "record"); err != nil {
		return false, err
	}
	if s.bug != "no validation" {
		if err := c.Validate(); err != nil {
			if s.bug == "echoes input" {
				return false, fmt.Errorf("mapstore: record link %q: %w", c.Link, err)
			}
			return false, fmt.Errorf("mapstore: record: %w", err)
		}
		if c.Kind != clickstore.KindClick && s.bug != "holds conversions" {
			return false, fmt.Errorf("mapstore: record: kind: %w", clickstore.ErrInvalidClick)
		}
	}
	if s.bug == "checks and inserts apart" {
		// Look under the lock, then let it go before inserting: two
		// Records of one key may both find nothing held.
		held := false
		now := s.clock()
		for _, e := range s.held {
			held = held || e.c.Link == c.Link && s.same(e, c.Visitor, c.PrevVisitor) && s.live(e, now)
		}
		if held {
			return false, nil
		}
		s.mu.Unlock()
		runtime.Gosched()
		s.mu.Lock()
		if len(s.held) >= s.capacity {
			return false, fmt.Errorf("mapstore: record: %w", clickstore.ErrFull)
		}
		c.PrevVisitor = clickstore.Pseudonym{}
		s.held = append(s.held, entry{c, now})
		return true, nil
	}
	now := s.clock()
	put := now
	if s.bug == "lifetime from Click.Time" {
		put = c.Time
	}
	if s.bug != "expired clicks fill it" {
		s.expire(now)
	}
	for i, e := range s.held {
		if e.c.Link == c.Link && s.same(e, c.Visitor, c.PrevVisitor) && s.live(e, now) {
			switch s.bug {
			case "repeat extends":
				s.held[i].put = now
			case "repeat held":
				s.held = append(s.held, entry{c, put})
			}
			return false, nil
		}
	}
	if len(s.held) >= s.capacity {
		if s.bug != "evicts at capacity" {
			return false, fmt.Errorf("mapstore: record: %w", clickstore.ErrFull)
		}
		s.held = s.held[1:]
	}
	if s.bug != "keeps PrevVisitor" {
		c.PrevVisitor = clickstore.Pseudonym{}
	}
	s.held = append(s.held, entry{c, put})
	return true, nil
}

func (s *mapStore) Latest(ctx context.Context, v, prev clickstore.Pseudonym, link string) (clickstore.Click, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(ctx, "latest"); err != nil {
		return clickstore.Click{}, false, err
	}
	if len(link) > clickstore.MaxLinkLen {
		return clickstore.Click{}, false, fmt.Errorf("mapstore: latest: link of %d bytes: %w", len(link), clickstore.ErrInvalidClick)
	}
	now := s.clock()
	s.expire(now)
	order := slices.Backward(s.held)
	if s.bug == "Latest gives the oldest" {
		order = slices.All(s.held)
	}
	for _, e := range order {
		if s.live(e, now) && (link == "" || e.c.Link == link) && s.same(e, v, prev) {
			return e.c, true, nil
		}
	}
	return clickstore.Click{}, false, nil
}

func (s *mapStore) All(ctx context.Context) iter.Seq2[clickstore.Click, error] {
	return func(yield func(clickstore.Click, error) bool) {
		s.mu.Lock()
		if err := s.enter(ctx, "all"); err != nil {
			s.mu.Unlock()
			yield(clickstore.Click{}, err)
			return
		}
		now := s.clock()
		s.expire(now)
		var out []clickstore.Click
		for _, e := range s.held {
			if s.live(e, now) {
				out = append(out, e.c)
			}
		}
		s.mu.Unlock()
		for _, c := range out {
			if !yield(c, nil) {
				return
			}
		}
	}
}

func (s *mapStore) erase(now time.Time, match func(clickstore.Click) bool) int {
	n := 0
	s.held = slices.DeleteFunc(s.held, func(e entry) bool {
		if !match(e.c) {
			return false
		}
		if s.live(e, now) {
			n++
		}
		return true
	})
	return n
}

func (s *mapStore) EraseVisitor(ctx context.Context, v clickstore.Pseudonym) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(ctx, "erase visitor"); err != nil {
		return 0, err
	}
	now := s.clock()
	switch s.bug {
	case "erases one of the visitor's clicks":
		if i := slices.IndexFunc(s.held, func(e entry) bool { return e.c.Visitor == v }); i >= 0 {
			s.held = slices.Delete(s.held, i, i+1)
			return 1, nil
		}
		return 0, nil
	case "erases one but counts all":
		n := 0
		for _, e := range s.held {
			if e.c.Visitor == v {
				n++
			}
		}
		if i := slices.IndexFunc(s.held, func(e entry) bool { return e.c.Visitor == v }); i >= 0 {
			s.held = slices.Delete(s.held, i, i+1)
		}
		return n, nil
	case "erases the visitor's links":
		var links []string
		n := 0
		for _, e := range s.held {
			if e.c.Visitor == v {
				links = append(links, e.c.Link)
				n++
			}
		}
		s.erase(now, func(c clickstore.Click) bool { return slices.Contains(links, c.Link) })
		return n, nil
	}
	return s.erase(now, func(c clickstore.Click) bool { return c.Visitor == v }), nil
}

func (s *mapStore) EraseLink(ctx context.Context, link string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(ctx, "erase link"); err != nil {
		return 0, err
	}
	if link == "" || len(link) > clickstore.MaxLinkLen {
		if s.bug == "echoes input" {
			return 0, fmt.Errorf("mapstore: erase link %q: %w", link, clickstore.ErrInvalidClick)
		}
		return 0, fmt.Errorf("mapstore: erase link: link of %d bytes: %w", len(link), clickstore.ErrInvalidClick)
	}
	now := s.clock()
	if s.bug == "erases links by prefix" {
		return s.erase(now, func(c clickstore.Click) bool { return len(c.Link) >= len(link) && c.Link[:len(link)] == link }), nil
	}
	return s.erase(now, func(c clickstore.Click) bool { return c.Link == link }), nil
}

func (s *mapStore) Sweep(ctx context.Context, now time.Time) (retention.SweepStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(ctx, "sweep"); err != nil {
		return retention.SweepStats{}, err
	}
	if own := s.clock(); own.After(now) {
		now = own
	}
	var st retention.SweepStats
	n := len(s.held)
	s.held = slices.DeleteFunc(s.held, func(e entry) bool { return !s.live(e, now) })
	st.Deleted = n - len(s.held)
	st.Held = len(s.held)
	for _, e := range s.held {
		st.Oldest = max(st.Oldest, now.Sub(e.put))
	}
	if s.bug == "Sweep reports no age" {
		st.Oldest = 0
	}
	return st, nil
}

func (s *mapStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bug != "readable after Close" {
		clear(s.held)
		s.held = nil
	}
	s.closed = true
	if s.bug == "Close fails naming its server" {
		// As a driver's error does: the suite must show it masked.
		return errors.New("mapstore: close: write tcp 198.51.100.7:41000->203.0.113.9:6379: connection reset by peer")
	}
	return nil
}
