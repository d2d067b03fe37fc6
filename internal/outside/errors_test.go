package outside_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/clickstore/geo"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/ipmask/logmask"
	"github.com/clickanon/clickanon/metrics"
	"github.com/clickanon/clickanon/retention"
)

// hostileAddrs are the addresses the hostile strings carry.
var hostileAddrs = []netip.Addr{visitor4, visitor6, netip.MustParseAddr("2002:c633:644d::1")}

// hostileStrings are the classes of string argument an outside tester
// feeds every exported function: an address alone and with a port,
// brackets, a zone; glued into text; in a list; percent-encoded; after a
// NUL and invalid UTF-8; 1 MiB long with the address in the middle and at
// both ends; spelt with dashes in a host name. (Other notations, a bare
// integer, hex or dashed quad, are not addresses to package logmask, and
// the README says neither the middleware nor the tracker looks for them.)
func hostileStrings() map[string]string {
	out := map[string]string{}
	for _, a := range hostileAddrs {
		s := a.String()
		for name, v := range map[string]string{
			"alone":         s,
			"port":          netip.AddrPortFrom(a, 8080).String(),
			"zone":          s + "%eth0",
			"glued":         "user" + s + "x",
			"list":          "unknown, " + s + ", 10.0.0.1",
			"url":           "http://" + netip.AddrPortFrom(a, 80).String() + "/x?ip=" + s,
			"percent":       strings.NewReplacer(".", "%2E", ":", "%3A").Replace(s),
			"nul":           s + "\x00" + s,
			"invalid utf-8": "\xff\xfe" + s + "\xc3",
			"1 MiB":         s + strings.Repeat("a", 1<<19) + s + strings.Repeat("b", 1<<19) + s,
			"host name":     "ip-" + strings.NewReplacer(".", "-", ":", "-").Replace(s) + ".example.net",
		} {
			out[a.String()+"/"+name] = v
		}
	}
	return out
}

// checkErr is the check every error of the module must pass (README
// guarantee 7: "no error of any package quotes its input: it says which
// header, which entry from the right, what kind of fault and how long,
// never the text"): it starts with its package's name, and it holds no
// address that ipmask.Default does not mask, as ipmasktest.AssertNoRawIP
// reads it (also printed with %+v and %#v). An error that says what was
// wrong with the input is short; one that carries the text of an error
// the caller's own code gave (a Sweepable's) may be as long as that text.
func checkErr(t *testing.T, pkg, call string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	assert.True(t, strings.HasPrefix(msg, pkg+": "), "%s: error does not start with %q: %.200q", call, pkg, msg)
	if pkg != "retention" {
		assert.Less(t, len(msg), 1024, "%s: a long error: %.200q", call, msg)
	}
	for _, text := range []string{msg, fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		ipmasktest.AssertNoRawIP(t, ipmask.Default, text, call)
	}
}

// TestHostileInputErrors feeds every exported function that takes a string
// (or a value a client's string ends up in) each hostile string, and checks
// every error with checkErr. Functions that must refuse the input are
// required to; the rest may accept it, but an error they give is held to
// the same rule. Checked to fail: an error made with fmt.Errorf("...%q",
// s) in place of one of them is reported (checkErr on such an error, in
// TestCheckErrHasTeeth).
func TestHostileInputErrors(t *testing.T) {
	ctx := context.Background()
	d := newDeployment(t, nil, nil, nil)
	now := time.Now()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, nil)
	require.NoError(t, err)
	dir := t.TempDir()
	for name, s := range hostileStrings() {
		t.Run(name, func(t *testing.T) {
			mustFail := func(pkg, call string, err error) {
				t.Helper()
				assert.Error(t, err, call)
				checkErr(t, pkg, call, err)
			}
			b := []byte(s)

			// ipmask
			// An IPv6 zone is dropped, as documented.
			accepted := strings.HasSuffix(name, "/alone") || strings.HasSuffix(name, "/zone") && strings.Contains(s, ":")
			if _, err := ipmask.ParseAddr(s); accepted {
				assert.NoError(t, err)
			} else {
				mustFail("ipmask", "ParseAddr", err)
			}
			_, err := ipmask.Default.MaskString(s)
			checkErr(t, "ipmask", "MaskString", err)
			_, err = ipmask.Default.AppendMask(nil, b)
			checkErr(t, "ipmask", "AppendMask", err)

			// clientip
			_, err = clientip.NewTrusted(s)
			if !strings.HasSuffix(name, "/alone") {
				mustFail("clientip", "NewTrusted", err)
			}
			tr, _ := clientip.NewTrusted("10.0.0.0/8")
			checkErr(t, "clientip", "Update", tr.Update("10.0.0.1", s))
			_, err = clientip.New(clientip.SingleHeader(tr, s))
			mustFail("clientip", "New(SingleHeader)", err)
			for _, st := range []clientip.Strategy{clientip.RightmostUntrusted(tr), clientip.TrustedHops(tr, 2), clientip.Forwarded(tr), clientip.SingleHeader(tr, "X-Real-IP"), clientip.RemoteAddr()} {
				r, err := clientip.New(st)
				require.NoError(t, err)
				h := http.Header{}
				for _, k := range []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip"} {
					h[k] = []string{s, s}
				}
				_, err = r.Resolve(h, "10.0.0.1:80")
				checkErr(t, "clientip", "Resolve "+st.String(), err)
				_, err = r.Resolve(h, s)
				checkErr(t, "clientip", "Resolve remoteAddr "+st.String(), err)
			}

			// logmask: no function takes free text and errors, but the
			// placeholder, which must not hold an address.
			_, err = logmask.NewMasker(ipmask.Default, &logmask.Options{Fields: []int{1}, Placeholder: s})
			checkErr(t, "logmask", "NewMasker(Placeholder)", err)

			// clickstore
			_, err = clickstore.ParsePseudonym(s)
			mustFail("clickstore", "ParsePseudonym", err)
			var p clickstore.Pseudonym
			mustFail("clickstore", "UnmarshalText", p.UnmarshalText(b))
			// Build does not read the link's text (Record and Add refuse
			// one holding an address, below).
			_, err = d.builder.Build(ctx, visitor4, s, s, now)
			checkErr(t, "clickstore", "Build", err)
			good, err := d.builder.Build(ctx, visitor4, s, "spring", now)
			require.NoError(t, err)
			for field, set := range map[string]func(*clickstore.Click){
				"Link":     func(c *clickstore.Click) { c.Link = s },
				"Referrer": func(c *clickstore.Click) { c.Referrer = s },
				"Bot":      func(c *clickstore.Click) { c.Bot = s },
				"Device":   func(c *clickstore.Click) { c.Device = s },
				"Country":  func(c *clickstore.Click) { c.Country = s },
			} {
				c := good
				set(&c)
				check := mustFail
				check("clickstore", "Validate "+field, c.Validate())
				_, err = d.store.Record(ctx, c)
				check("clickstore", "Memory.Record "+field, err)
				check("aggregate", "Rollup.Add "+field, d.stats.Add(ctx, c, clickstore.Unique))
				ipmasktest.AssertNoRawIP(t, ipmask.Default, fmt.Sprint(c), "printed Click") // every verb prints String
			}
			_, err = d.store.EraseLink(ctx, s)
			checkErr(t, "clickstore", "EraseLink", err)
			_, _, err = d.store.Latest(ctx, good.Visitor, good.PrevVisitor, s)
			checkErr(t, "clickstore", "Latest", err)

			// track
			for field, o := range map[string]*track.Options{
				"PathValue":    {PathValue: s},
				"OptOutHeader": {OptOutHeader: s},
				"OptOutParam":  {OptOutParam: s},
			} {
				_, err := track.New(d.builder, d.store, d.stats, o)
				checkErr(t, "track", "New "+field, err)
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = "198.51.100.77:4711"
			v := d.tracker.Track(r, s, clickstore.KindClick)
			ipmasktest.AssertNoRawIP(t, ipmask.Default, fmt.Sprintf("%v %+v %#v", v, v, v), "Visit")

			// aggregate
			_, err = d.stats.EraseLink(ctx, s)
			checkErr(t, "aggregate", "EraseLink", err)
			q := aggregate.Query{Link: s, From: now.Add(-time.Hour), To: now}
			_, err = d.stats.Report(ctx, q)
			checkErr(t, "aggregate", "Report", err)
			_, err = q.Normalize()
			checkErr(t, "aggregate", "Normalize", err)

			// sqlsink: a data source holding the address, as a path, a
			// host and junk.
			dsns := []string{"sqlite:" + filepath.Join(dir, url.PathEscape(s), "stats.db"), s}
			if strings.HasSuffix(name, "/alone") || strings.HasSuffix(name, "/port") {
				// A server that cannot be reached (no route to the
				// documentation ranges), and the address as junk.
				dsns = append(dsns,
					"postgres://user:secret@"+netip.AddrPortFrom(visitor6, 1).String()+"/db?connect_timeout=1&application_name="+url.QueryEscape(s),
					"postgres://"+s)
			}
			for _, dsn := range dsns {
				cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				sink, err := sqlsink.Open(cctx, dsn, &sqlsink.Options{Logger: slog.New(slog.DiscardHandler)})
				cancel()
				if err == nil {
					_ = sink.Close(ctx)
				}
				mustFail("sqlsink", "Open", err)
			}

			// geo: a path holding the address.
			_, err = geo.Open(filepath.Join(dir, url.PathEscape(s[:min(len(s), 200)]), "GeoLite2-Country.mmdb"), &geo.Options{Logger: slog.New(slog.DiscardHandler)})
			mustFail("geo", "Open", err)

			// metrics: part names and the namespace.
			_, err = metrics.New(prometheus.NewRegistry(), &metrics.Options{Namespace: s})
			mustFail("metrics", "New(Namespace)", err)
			mustFail("metrics", "Tracker", m.Tracker(s, d.tracker))
			mustFail("metrics", "Resolver", m.Resolver(s, d.resolver))
			mustFail("metrics", "Keyring", m.Keyring(s, d.keyring))
			_, err = m.Sweep(s, d.store)
			mustFail("metrics", "Sweep", err)
			mustFail("metrics", "Sink", m.Sink(s, func() metrics.SinkStats { return metrics.SinkStats{} }))
			mustFail("metrics", "Store", m.Store(s, func() metrics.StoreStats { return metrics.StoreStats{} }))

			// retention: errors of what it sweeps carry the address.
			bad := retention.Group{sweepFunc(func() error { return errors.New("dial tcp " + s + ": refused") })}
			sw, err := retention.NewSweeper(bad, &retention.SweeperOptions{Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			_, err = sw.SweepNow(ctx)
			mustFail("retention", "SweepNow", err)
			_, _, err = sw.Last()
			checkErr(t, "retention", "Last", err)
		})
	}
}

// sweepFunc is a Sweepable that fails with its error.
type sweepFunc func() error

func (f sweepFunc) Sweep(context.Context, time.Time) (retention.SweepStats, error) {
	return retention.SweepStats{}, f()
}

// TestCheckErrHasTeeth shows checkErr catching an error that quotes its
// input.
func TestCheckErrHasTeeth(t *testing.T) {
	ft := &testing.T{}
	checkErr(ft, "clientip", "quoting", fmt.Errorf("clientip: bad entry %q", visitor4.String()))
	assert.True(t, ft.Failed())
}
