package aggregatetest

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// fit returns text cut or padded with "x" to exactly n bytes, so that a
// length check is reached with an address in the text.
func fit(text string, n int) string {
	if len(text) >= n {
		return text[:n]
	}
	return text + strings.Repeat("x", n-len(text))
}

// Errors describe bad input without echoing it: every error path of Add,
// Cells and EraseLink, driven with links, labels and networks that hold
// addresses (clickstoretest.Canaries), returns an error that carries no
// address at all (checked under a policy that keeps no bits) and does not
// quote its input.
func testErrorsCarryNoInput(t *testing.T, newBackend NewBackend) {
	e := setup(t, newBackend)
	check := clickstoretest.NewErrorChecker(t).Check
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	eraser, erases := e.b().(LinkEraser)
	for _, s := range clickstoretest.Canaries() {
		link := fit(s, min(len(s), clickstore.MaxLinkLen))
		long := fit(s, clickstore.MaxLinkLen+1)
		for _, tt := range []struct {
			name string
			ctx  context.Context
			u    clickstore.Uniqueness
			edit func(*clickstore.Click)
		}{
			{"long link", e.ctx, clickstore.Unique, func(c *clickstore.Click) { c.Link = long }},
			{"bad country", e.ctx, clickstore.Unique, func(c *clickstore.Click) { c.Country = s }},
			{"long bot", e.ctx, clickstore.Unique, func(c *clickstore.Click) { c.Bot = fit(s, clickstore.MaxLabelLen+1) }},
			{"long device", e.ctx, clickstore.Unique, func(c *clickstore.Click) { c.Device = fit(s, clickstore.MaxLabelLen+1) }},
			{"long referrer", e.ctx, clickstore.Unique, func(c *clickstore.Click) { c.Referrer = fit(s, clickstore.MaxReferrerLen+1) }},
			{"unmasked network", e.ctx, clickstore.Unique, func(c *clickstore.Click) {
				c.Network = netip.PrefixFrom(ipmasktest.Cases()[0].Addr, 24)
			}},
			{"unknown uniqueness", e.ctx, clickstore.Repeat + 1, func(*clickstore.Click) {}},
			{"canceled context", canceled, clickstore.Unique, func(*clickstore.Click) {}},
		} {
			c := click(link, t0, 1)
			c.Referrer = fit(s, min(len(s), clickstore.MaxReferrerLen))
			c.Bot = fit(s, min(len(s), clickstore.MaxLabelLen))
			c.Device = fit(s, min(len(s), clickstore.MaxLabelLen))
			tt.edit(&c)
			check("Add: "+tt.name, s, e.b().Add(tt.ctx, c, tt.u))
		}
		hour := aggregate.Query{Link: link, Granularity: aggregate.Hour, From: t0, To: t0.Add(time.Hour)}
		for _, tt := range []struct {
			name string
			ctx  context.Context
			edit func(*aggregate.Query)
		}{
			{"long link", e.ctx, func(q *aggregate.Query) { q.Link = long }},
			{"unknown granularity", e.ctx, func(q *aggregate.Query) { q.Granularity = 9 }},
			{"negative K", e.ctx, func(q *aggregate.Query) { q.K = -1 }},
			{"From after To", e.ctx, func(q *aggregate.Query) { q.From, q.To = q.To, q.From }},
			{"no From", e.ctx, func(q *aggregate.Query) { q.From = time.Time{} }},
			{"canceled context", canceled, func(*aggregate.Query) {}},
		} {
			q := hour
			tt.edit(&q)
			_, err := e.b().Cells(tt.ctx, q)
			check("Cells: "+tt.name, s, err)
		}
		if erases {
			_, err := eraser.EraseLink(e.ctx, long)
			check("EraseLink: long link", s, err)
			_, err = eraser.EraseLink(canceled, link)
			check("EraseLink: canceled context", s, err)
		}
	}
	cs := e.cells(dayQuery(fit(clickstoretest.Canaries()[0], len(clickstoretest.Canaries()[0])), aggregate.Minute))
	if len(cs) != 0 {
		t.Errorf("refused clicks were counted: %d cells", len(cs))
	}
}
