package outside_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/metrics"
)

// visitorLinks are the links a visitor names on a route that serves any
// link ("/out/{link...}", without a scheme, whose "//" ServeMux would
// redirect), each holding the visitor's address a in a form
// the README says the tracker masks: as a host with a port and a path, in
// a query, bracketed, percent-encoded once and twice, and spelt in a host
// name with dashes or hex.
func visitorLinks(a netip.Addr) []string {
	s := a.String()
	out := []string{
		netip.AddrPortFrom(a, 8080).String() + "/admin",
		"example.com/?ip=" + s,
		"example.com/?ip=" + url.QueryEscape(s),
		"example.com/?ip=" + url.QueryEscape(url.QueryEscape(s)),
		"example.com/" + strings.NewReplacer(".", "%2E", ":", "%3A").Replace(s),
		"example.com/" + strings.NewReplacer(".", "%252E", ":", "%253A").Replace(s),
		"ip-" + strings.NewReplacer(".", "-", ":", "-").Replace(s) + ".example.net/x",
	}
	if a.Is4() {
		b := a.As4()
		out = append(out, fmt.Sprintf("%02x%02x%02x%02x.nip.io/x", b[0], b[1], b[2], b[3]))
	}
	return out
}

// TestStoredDataHoldsNoAddress checks guarantee 7's "not in a stored
// value" the way an outside tester audits a deployment: the README's
// service with the durable statistics in SQLite (sqlsink.Open), clicked by
// every class of visitor, direct and through the trusted proxy, whose
// addresses are also in their user agent, Referer (as the referring host
// too), cookie and URL, and in the links they name; then everything that
// persists or is held is dumped: the SQLite files' bytes (database, WAL),
// every row of every table, the Memory store's All, the reports of every
// granularity and dimension as JSON and CSV, and the metrics scrape. None
// may hold any text form of a visitor's address (or of the IPv4 address
// it carries): dotted, expanded, dashed, hex, the decimal integer,
// reversed, percent-encoded; and the files none in binary. Checked to
// fail: a tracker built with a Builder that keeps raw addresses
// (clickstore.BuilderOptions.KeepRawAddr) fails the Memory check.
func TestStoredDataHoldsNoAddress(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "stats.db")
	sink, err := sqlsink.Open(ctx, "sqlite:"+path, &sqlsink.Options{FlushInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	d := newDeployment(t, []string{proxyAddr + "/32"}, nil, sink)
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, nil)
	require.NoError(t, err)
	require.NoError(t, m.Tracker("web", d.tracker))
	require.NoError(t, m.Resolver("web", d.resolver))
	require.NoError(t, m.Keyring("web", d.keyring))
	require.NoError(t, m.Sink("sql", func() metrics.SinkStats {
		s := sink.Stats()
		return metrics.SinkStats{Flushes: s.Flushes, FlushErrors: s.FlushErrors, Written: s.Written, Buffered: s.Buffered, Dropped: s.Dropped}
	}))

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusFound) })
	mux := http.NewServeMux()
	mux.Handle("GET /go/{link}", d.tracker.Handler(ok))
	mux.Handle("GET /out/{link...}", d.tracker.Handler(ok))
	h := d.mw(mux)

	var all []netip.Addr
	for _, client := range visitors() {
		all = append(all, carried(client)...)
		for _, proxied := range []bool{false, true} {
			paths := []string{"/go/spring"}
			for _, l := range visitorLinks(client) {
				paths = append(paths, "/out/"+strings.ReplaceAll(l, "?", "%3F")) // the query is the link's
			}
			for _, p := range paths {
				r := hostileRequest(client, proxied, p)
				r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; "+client.String()+") Firefox/128.0")
				r.Header.Set("Referer", "https://"+strings.NewReplacer(".", "-", ":", "-").Replace(client.String())+".sslip.io/?ip="+client.String())
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				require.Equal(t, http.StatusFound, w.Code)
			}
		}
	}
	st := d.tracker.Stats()
	require.Positive(t, st.Unique)
	require.Zero(t, st.SinkFailures)
	require.Zero(t, st.BuildFailures)

	// What the transient half holds.
	assertNoForm(t, []byte(d.dumpHeld(t)), "Memory store", all...)
	ipmasktest.AssertNoRawIP(t, ipmask.Default, d.dumpHeld(t), "Memory store")

	// What the durable half publishes.
	require.NoError(t, sink.Flush(ctx))
	now := time.Now()
	var reports bytes.Buffer
	for _, g := range []aggregate.Granularity{aggregate.Minute, aggregate.Hour, aggregate.Day} {
		for _, k := range []int{1, 5} {
			rep, err := aggregate.Publish(ctx, sink, aggregate.Query{Link: "spring", Granularity: g, From: now.Add(-48 * time.Hour), To: now.Add(48 * time.Hour), K: k})
			require.NoError(t, err)
			require.NoError(t, aggregate.WriteJSON(&reports, rep))
			require.NoError(t, aggregate.WriteCSV(&reports, rep))
		}
	}
	require.Contains(t, reports.String(), "203.0.113.0/24", "the network breakdown is published at k=1")
	assertNoForm(t, reports.Bytes(), "reports", all...)
	ipmasktest.AssertNoRawIP(t, ipmask.Default, reports.Bytes(), "reports")

	// What metrics export.
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Contains(t, rec.Body.String(), "clickanon_tracker_clicks_total")
	assertNoForm(t, rec.Body.Bytes(), "metrics", all...)
	ipmasktest.AssertNoRawIP(t, ipmask.Default, rec.Body.Bytes(), "metrics")
	assert.NotContains(t, rec.Body.String(), "spring", "no link is a label")

	// What the database holds: every row, then the files.
	rows := dumpSQLite(t, path)
	require.Contains(t, rows, "spring")
	require.Contains(t, rows, "203.0.113.0:8080/admin", "a link a visitor named is kept, masked")
	assertNoForm(t, []byte(rows), "SQLite rows", all...)
	ipmasktest.AssertNoRawIP(t, ipmask.Default, rows, "SQLite rows")
	files := func(what string) {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			require.NoError(t, err)
			assertNoForm(t, b, what+" "+e.Name(), all...)
			assertNoBinary(t, b, what+" "+e.Name(), all...)
			ipmasktest.AssertNoRawIPOf(t, ipmask.Default, b, all, what+" "+e.Name())
		}
	}
	files("open database file")
	require.NoError(t, sink.Close(ctx))
	files("closed database file")
}

// dumpSQLite returns every row of every table of the SQLite database at
// path, as dumpTables writes them.
func dumpSQLite(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	require.NoError(t, err)
	defer db.Close()
	return dumpTables(t, db, "SELECT name FROM sqlite_master WHERE type = 'table'")
}

// dumpTables returns every row of every table that the query list names
// in db, a line a row, each value as fmt prints it, and as text where it
// is bytes.
func dumpTables(t *testing.T, db *sql.DB, list string) string {
	t.Helper()
	tables, err := db.Query(list)
	require.NoError(t, err)
	var names []string
	for tables.Next() {
		var n string
		require.NoError(t, tables.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, tables.Err())
	require.NotEmpty(t, names)
	var out strings.Builder
	for _, n := range names {
		rows, err := db.Query(`SELECT * FROM "` + n + `"`)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			fmt.Fprintf(&out, "%s:", n)
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				fmt.Fprintf(&out, " %s=%v", cols[i], v)
			}
			out.WriteByte('\n')
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return out.String()
}
