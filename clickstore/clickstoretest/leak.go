package clickstoretest

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// Canaries returns texts that hold an address in every tricky form
// ([ipmasktest.Cases]), alone and with junk around it (a prefix, a suffix,
// a zone, a port and bytes that are not UTF-8), as a client could put one
// in a link, a user agent, a referrer or a label. A test that feeds them to
// code and finds none of their addresses in its errors or logs, under a
// policy that keeps no bits, shows the code does not echo its input. Each
// call returns a new slice.
func Canaries() []string {
	var out []string
	for _, c := range ipmasktest.Cases() {
		out = append(out, c.Text, "go-"+c.Text, c.Text+"xyz", "X-"+c.Text+"%eth0", c.Text+":80/x\x00\xff")
	}
	return out
}

// fit returns text cut or padded with "x" to exactly n bytes, so that a
// length check is reached with an address in the text.
func fit(text string, n int) string {
	if len(text) >= n {
		return text[:n]
	}
	return text + strings.Repeat("x", n-len(text))
}

// Errors describe bad input without echoing it (invariant 7): a store's
// errors for invalid clicks, a full store and a closed one, given links and
// labels that hold addresses, carry no address at all.
func testErrorsCarryNoInput(t *testing.T, newStore NewStore) {
	e := setup(t, newStore, 1)
	e.record(click(visitor(0), "held", t0))
	closed := setup(t, newStore, 0)
	if err := closed.store.Close(); err != nil {
		t.Fatalf("Close: %v", shown(err))
	}
	check := NewErrorChecker(t).Check
	for _, s := range Canaries() {
		link := fit(s, min(len(s), clickstore.MaxLinkLen))
		for _, tt := range []struct {
			name string
			edit func(*clickstore.Click)
		}{
			{"long link", func(c *clickstore.Click) { c.Link = fit(s, clickstore.MaxLinkLen+1) }},
			{"bad country", func(c *clickstore.Click) { c.Country = s }},
			{"long bot", func(c *clickstore.Click) { c.Bot = fit(s, clickstore.MaxLabelLen+1) }},
			{"long device", func(c *clickstore.Click) { c.Device = fit(s, clickstore.MaxLabelLen+1) }},
			{"long referrer", func(c *clickstore.Click) { c.Referrer = fit(s, clickstore.MaxReferrerLen+1) }},
			{"unmasked network", func(c *clickstore.Click) { c.Network = netip.PrefixFrom(ipmasktest.Cases()[0].Addr, 24) }},
		} {
			c := click(visitor(1), link, t0)
			c.Referrer, c.Bot, c.Device = fit(s, min(len(s), clickstore.MaxReferrerLen)), fit(s, min(len(s), clickstore.MaxLabelLen)), fit(s, min(len(s), clickstore.MaxLabelLen))
			tt.edit(&c)
			_, err := e.store.Record(e.ctx, c)
			check("Record, "+tt.name, s, err)
		}
		_, err := e.store.Record(e.ctx, click(visitor(2), link, t0))
		check("Record in a full store", s, err)
		_, _, err = e.store.Latest(e.ctx, visitor(1), clickstore.Pseudonym{}, fit(s, clickstore.MaxLinkLen+1))
		check("Latest, long link", s, err)
		_, err = e.store.EraseLink(e.ctx, fit(s, clickstore.MaxLinkLen+1))
		check("EraseLink, long link", s, err)
		_, err = closed.store.Record(closed.ctx, click(visitor(2), link, t0))
		check("Record after Close", s, err)
		_, _, err = closed.store.Latest(closed.ctx, visitor(1), clickstore.Pseudonym{}, link)
		check("Latest after Close", s, err)
		_, err = closed.store.EraseLink(closed.ctx, link)
		check("EraseLink after Close", s, err)
	}
}

// ErrorChecker checks that errors describe bad input without echoing it
// (invariant 7): an error must be returned, carry no address at all (under
// a policy that keeps no bits) and not quote the input it was given. It
// reports each operation's first failure only, so that a leak on one path
// does not bury the others.
//
// The zero ErrorChecker is not usable; make one with [NewErrorChecker]. It
// is not safe for concurrent use.
type ErrorChecker struct {
	t      testing.TB
	failed map[string]bool
}

// NewErrorChecker returns an ErrorChecker that reports to t.
func NewErrorChecker(t testing.TB) *ErrorChecker {
	return &ErrorChecker{t: t, failed: map[string]bool{}}
}

// Check checks err, returned by operation op for input text.
func (c *ErrorChecker) Check(op, text string, err error) {
	c.t.Helper()
	var none ipmask.Policy // keeps no bits: any address in an error is a leak
	switch {
	case c.failed[op]:
	case err == nil:
		c.t.Errorf("%s with an address in the input: no error", op)
		c.failed[op] = true
	case !ipmasktest.AssertNoRawIPError(c.t, none, err, "%s", op):
		c.failed[op] = true
	default:
		if frag := strings.Trim(text, " .:%[]x"); len(frag) >= 4 && strings.Contains(err.Error(), frag) {
			c.t.Errorf("%s: the error quotes its input", op)
			c.failed[op] = true
		}
	}
}
