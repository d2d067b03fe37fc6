package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// canaryReferrers write an address into a Referer every way a client can:
// as the host, as a wildcard-DNS or reverse-DNS name, and in the query.
var canaryReferrers = []string{
	"http://198.51.100.7.nip.io/page",
	"https://198-51-100-7.sslip.io/",
	"http://ec2-198-51-100-7.compute-1.amazonaws.com/",
	"http://2001-db8--7.sslip.io/",
	"http://203.0.113.9:8080/",
	"http://[2001:db8::7]/",
	"android-app://203.0.113.9/",
	"https://news.example.com/?ip=203.0.113.9",
}

// TestNoAddressInStoresOrAnswers sends clicks from every address form
// ipmasktest knows (IPv4, IPv6, IPv4-mapped, -compatible, 6to4, Teredo,
// NAT64, ISATAP) through the trusted proxy, with addresses in the
// Referer, the User-Agent and the query, and conversions after them.
// Then it dumps everything the tracker keeps and answers: the whole Redis
// keyspace (every key with its value, whatever its type, and its TTL),
// every row of every table of the database, the stats API, the dashboard,
// /metrics and /healthz, and the log. None holds an address with more bits
// than ipmask.Default keeps, in text or in binary, and no Redis key lives
// past the window plus its epoch key's grace.
func TestNoAddressInStoresOrAnswers(t *testing.T) {
	for _, backend := range []string{"memory, sqlite", "redis, sqlite", "redis, postgres"} {
		t.Run(backend, func(t *testing.T) {
			cfg := config{db: "sqlite:" + filepath.Join(t.TempDir(), "links.db")}
			if strings.HasSuffix(backend, "postgres") {
				cfg.db = startPostgres(t)
			}
			var srv *redistest.Server
			if strings.HasPrefix(backend, "redis") {
				srv = redistest.Start(t, nil)
				cfg.redis = srv.Addr()
			}
			tr := newTrackerWith(t, cfg)
			id := tr.create("https://example.com/")["id"]

			var clients []netip.Addr
			for _, c := range ipmasktest.Cases() {
				if a := c.Addr.WithZone(""); !slices.Contains(clients, a) {
					clients = append(clients, a)
				}
			}
			require.GreaterOrEqual(t, len(clients), 8, "the address forms to send")
			for i, client := range clients {
				for j, ref := range canaryReferrers {
					r := newRequest("GET", "/l/"+id+"?ip="+url.QueryEscape(client.String()))
					r.Header.Set("Referer", ref)
					ua := fmt.Sprintf("%s visitor/%d-%d (from %s)", browser, i, j, client)
					require.Equal(t, http.StatusFound, tr.doWith(r, client.String(), ua).Code)
				}
				tr.doWith(newRequest("GET", "/c/"+id+".gif"), client.String(), fmt.Sprintf("%s visitor/%d-0 (from %s)", browser, i, client))
			}

			st := tr.stats(id)
			require.Equal(t, uint64(len(clients)*len(canaryReferrers)), st.Clicks)
			published := map[string][]string{}
			for _, b := range st.Breakdowns {
				for _, c := range b.Cells {
					published[b.Dimension] = append(published[b.Dimension], c.Value)
				}
			}
			require.Contains(t, published["referrer"], "news.example.com", "referrers are published, so the check of the answer means something")
			require.Contains(t, published["network"], "203.0.113.0/24", "networks are published too")
			for _, path := range []string{"/links/" + id, "/metrics", "/healthz"} {
				w := tr.do("GET", path, "192.0.2.1", browser, nil)
				require.Less(t, w.Code, 600, path)
				var h bytes.Buffer
				require.NoError(t, w.Header().Write(&h))
				tr.bodies = append(tr.bodies, h.String())
			}

			ctx := context.Background()
			require.NoError(t, tr.app.sink.Flush(ctx))
			dumps := map[string][]byte{"database": dumpTables(t, tr.app.db)}
			if srv != nil {
				dumps["redis"] = dumpRedis(t, srv.Addr())
			} else {
				dumps["memory"] = dumpStore(t, tr.app.store)
			}
			for name, dump := range dumps {
				require.Greater(t, len(dump), 1000, "%s: a dump of a few bytes proves nothing", name)
				// Pseudonyms, sealed values and sketches are random bytes,
				// which can read as some address ("c::f"): look for the
				// clients' addresses, and the IPv4 address the transition
				// forms carry.
				ipmasktest.AssertNoRawIPOf(t, ipmask.Default, dump, append(clients, netip.MustParseAddr("203.0.113.9")), name)
				for _, a := range clients {
					assertNoBinaryAddr(t, dump, a, name)
				}
			}
			tr.assertNoLeak()
		})
	}
}

// assertNoBinaryAddr fails if dump holds a's bytes (4 or 16 for an IPv4
// address, 16 for IPv6), as they are or in hex in either case, as a text
// dump writes binary columns.
func assertNoBinaryAddr(t *testing.T, dump []byte, a netip.Addr, name string) {
	t.Helper()
	a16 := a.As16()
	assert.False(t, bytes.Contains(dump, a16[:]), "%s holds the 16 bytes of %s", name, a)
	if u := a.Unmap(); u.Is4() {
		a4 := u.As4()
		assert.False(t, bytes.Contains(dump, a4[:]), "%s holds the 4 bytes of %s", name, a)
	}
	lower := bytes.ToLower(dump)
	for _, h := range hexAddr(a) {
		assert.False(t, bytes.Contains(lower, []byte(h)), "%s holds the bytes of %s in hex", name, a)
	}
}

// dumpRedis returns every key of the server at addr with its type, TTL
// and value, and fails for a key without a TTL or with one past the
// window and its epoch key's grace (an hour).
func dumpRedis(t *testing.T, addr string) []byte {
	t.Helper()
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	var b bytes.Buffer
	keys := 0
	for it := c.Scan(ctx, 0, "*", 1000).Iterator(); it.Next(ctx); {
		k := it.Val()
		keys++
		typ, err := c.Type(ctx, k).Result()
		require.NoError(t, err)
		ttl, err := c.PTTL(ctx, k).Result()
		require.NoError(t, err)
		assert.Positive(t, ttl, "key %q does not expire", k)
		assert.LessOrEqual(t, ttl.Minutes(), 60.0, "key %q outlives the window and its grace", k)
		var v any
		switch typ {
		case "string":
			v, err = c.Get(ctx, k).Result()
		case "hash":
			v, err = c.HGetAll(ctx, k).Result()
		case "zset":
			v, err = c.ZRangeWithScores(ctx, k, 0, -1).Result()
		case "set":
			v, err = c.SMembers(ctx, k).Result()
		case "list":
			v, err = c.LRange(ctx, k, 0, -1).Result()
		default:
			t.Fatalf("key %q of type %s: the dump does not read it", k, typ)
		}
		require.NoError(t, err)
		// Keys and values as they are, byte for byte, and as %v prints
		// them.
		fmt.Fprintf(&b, "%s\n%s\n%v\n", typ, k, v)
	}
	require.Positive(t, keys)
	return b.Bytes()
}

// dumpStore returns every field of every click store holds, as it is
// held (not as a Click prints, which masks).
func dumpStore(t *testing.T, store clickstore.Store) []byte {
	t.Helper()
	var b bytes.Buffer
	for c, err := range store.All(context.Background()) {
		require.NoError(t, err)
		fmt.Fprintf(&b, "%s\n%s\n%s\n%s\n%s\n%s\n%s\n", c.Link, c.Referrer, c.Bot, c.Device, c.Country, c.Network, c.RawAddr)
		for _, p := range []clickstore.Pseudonym{c.Visitor, c.PrevVisitor} {
			b.Write(p[:])
		}
	}
	return b.Bytes()
}

// dumpTables returns every row of every table of the database, the
// values as the driver gives them (text, numbers, the sketches' bytes).
func dumpTables(t *testing.T, db *database) []byte {
	t.Helper()
	ctx := context.Background()
	q := "SELECT name FROM sqlite_master WHERE type = 'table'"
	if db.dialect == "postgres" {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
	}
	var tables []string
	rows, err := db.QueryContext(ctx, q)
	require.NoError(t, err)
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	require.GreaterOrEqual(t, len(tables), 3, "the links, the statistics and the schema version")

	var b bytes.Buffer
	for _, table := range tables {
		rows, err := db.QueryContext(ctx, `SELECT * FROM "`+table+`"`)
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
			b.WriteString(table)
			for _, v := range vals {
				if raw, ok := v.([]byte); ok {
					b.WriteByte('\n')
					b.Write(raw)
					continue
				}
				fmt.Fprintf(&b, "\n%v", v)
			}
			b.WriteByte('\n')
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
	}
	return b.Bytes()
}

func newRequest(method, target string) *http.Request { return httptest.NewRequest(method, target, nil) }

// A linktracker that cannot start (Redis or the database down, the port
// taken, a bad flag) says why on stderr and exits with status 2, and what
// it prints has every address masked, as its log has: the error of a
// driver or of the flag package quotes the addresses and values it was
// given.
func TestStartFailuresPrintNoAddress(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := closed.Addr().String() // nothing listens there once closed
	require.NoError(t, closed.Close())
	dir := t.TempDir()
	sqlite := "sqlite:" + filepath.Join(dir, "l.db")

	tests := []struct {
		name string
		args []string
		want string // in the output
	}{
		{name: "redis down", args: []string{"-db", sqlite, "-redis", down}, want: "redisstore"},
		{name: "database down", args: []string{"-db", "postgres://u:secret@" + down + "/x?connect_timeout=5"}, want: "-db: postgres"},
		{name: "address taken", args: []string{"-db", sqlite, "-addr", taken.Addr().String()}, want: "address already in use"},
		{name: "bad flag value", args: []string{"-create-per-minute=203.0.113.9"}, want: "-create-per-minute"},
		{name: "bad proxies", args: []string{"-trusted-proxies", "203.0.113.9/33"}, want: "-trusted-proxies"},
		{name: "bad exclusions", args: []string{"-db", sqlite, "-exclude", "192.0.2.0/24, 203.0.113.9/33"}, want: "-exclude: entry 2"},
		{name: "zoned exclusion", args: []string{"-db", sqlite, "-exclude", "fe80::203.0.113.9%eth0"}, want: "-exclude: entry 1"},
		{name: "missing geoip file", args: []string{"-db", sqlite, "-geoip", filepath.Join(dir, "203.0.113.9.mmdb")}, want: "-geoip"},
		{name: "missing sqlite directory", args: []string{"-db", "sqlite:" + filepath.Join(dir, "2001:db8::7", "l.db")}, want: "-db: sqlite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(trackerBinary(t), tt.args...)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "the linktracker started: %s", out)
			assert.Equal(t, 2, exit.ExitCode())
			assert.Contains(t, string(out), tt.want)
			ipmasktest.AssertNoRawIP(t, ipmask.Default, out, "the output of a linktracker that could not start")
		})
	}
}
