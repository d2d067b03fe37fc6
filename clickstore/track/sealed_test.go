package track_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/retention"
)

// dumpScript returns every key matching ARGV[1] with its type, its TTL in
// milliseconds and its value (a string's bytes, a zset's members and
// scores, a hash's fields and values, a set's or a list's members), in one
// flat array; a key of another type is an error.
var dumpScript = redis.NewScript(`
local out = {}
for _, k in ipairs(redis.call('KEYS', ARGV[1])) do
	local t = redis.call('TYPE', k).ok
	table.insert(out, k)
	table.insert(out, t)
	table.insert(out, tostring(redis.call('PTTL', k)))
	local v
	if t == 'string' then v = {redis.call('GET', k)}
	elseif t == 'zset' then v = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
	elseif t == 'hash' then v = redis.call('HGETALL', k)
	elseif t == 'set' then v = redis.call('SMEMBERS', k)
	elseif t == 'list' then v = redis.call('LRANGE', k, 0, -1)
	else return redis.error_reply('key of type ' .. t) end
	for _, x in ipairs(v) do table.insert(out, x) end
end
return out`)

// With Builder's KeepRawAddr, the tracker in front of a Redis store, and
// the clientip middleware nowhere, in front of the tracker or behind it,
// every visitor's full address (from every form ipmasktest knows, through
// a trusted proxy) reaches the store, and the store holds it sealed: the
// whole keyspace, keys and values, holds no address beyond the /24 and
// /48 in text or in binary, while Latest opens the sealed address. With
// the middleware, the handler behind it sees no address either (its
// RemoteAddr, the headers but the visitor's own Referer and User-Agent,
// its context printed), and the tracker's log holds none.
func TestKeptAddressSealedInRedisEitherOrder(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	ctx := t.Context()
	now := func() time.Time { return time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC) }

	trusted, err := clientip.NewTrusted("10.0.0.0/8")
	require.NoError(t, err)
	resolver, err := clientip.New(clientip.RightmostUntrusted(trusted), clientip.RemoteAddr())
	require.NoError(t, err)
	mask, err := clientip.NewMiddleware(resolver, ipmask.Default, nil)
	require.NoError(t, err)

	var clients []netip.Addr
	for _, c := range ipmasktest.Cases() {
		if a := c.Addr.WithZone(""); !slices.Contains(clients, a) {
			clients = append(clients, a)
		}
	}

	for _, order := range []string{"no middleware", "clientip outside", "clientip inside"} {
		t.Run(order, func(t *testing.T) {
			prefix := strings.ReplaceAll(order, " ", "-")
			keys, err := redisstore.NewKeyStore(client, &redisstore.KeyStoreOptions{Prefix: prefix})
			require.NoError(t, err)
			ring, err := retention.NewKeyring(&retention.KeyringOptions{Store: keys, Now: now})
			require.NoError(t, err)
			t.Cleanup(func() { _ = ring.Close() })
			store, err := redisstore.New(ctx, client, &redisstore.Options{Prefix: prefix, Now: now, Keyring: ring, KeyStore: keys})
			require.NoError(t, err)
			t.Cleanup(func() { _ = store.Close() })
			b, err := clickstore.NewBuilder(ipmask.Default, ring, &clickstore.BuilderOptions{KeepRawAddr: true})
			require.NoError(t, err)
			var log bytes.Buffer
			sink := &recordingSink{}
			tr, err := track.New(b, store, sink, &track.Options{
				Resolver: resolver, Now: now, Logger: slog.New(slog.NewTextHandler(&log, nil)),
			})
			require.NoError(t, err)

			var seen strings.Builder // what the handler behind it all sees
			var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// The Referer and User-Agent are the visitor's own text, which
				// the middleware leaves alone: they hold addresses here.
				h := r.Header.Clone()
				h.Del("Referer")
				h.Del("User-Agent")
				fmt.Fprintf(&seen, "%s\n%v\n%v\n", r.RemoteAddr, h, r.Context())
				http.Redirect(w, r, "https://example.com/", http.StatusFound)
			})
			mux := http.NewServeMux()
			switch order {
			case "no middleware":
				mux.Handle("GET /l/{link}", tr.Handler(h))
				h = mux
			case "clientip outside":
				mux.Handle("GET /l/{link}", tr.Handler(h))
				h = mask(mux)
			case "clientip inside":
				mux.Handle("GET /l/{link}", tr.Handler(mask(h)))
				h = mux
			}
			for i, a := range clients {
				r := request("GET", "10.0.0.1:40000", fmt.Sprintf("%s (from %s)", firefox, a),
					"X-Forwarded-For", a.String(), "X-Real-IP", a.String(), "Referer", "http://"+a.String()+".nip.io/")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				require.Equal(t, http.StatusFound, w.Code, "client %d", i)
			}
			require.NoError(t, store.Flush(ctx)) // the indexes too

			adds := sink.all()
			require.Len(t, adds, len(clients))
			for i, a := range adds {
				require.False(t, a.Click.RawAddr.IsValid(), "the sink never gets the full address")
				require.Equal(t, clickstore.Unique, a.U)
				held, ok, err := store.Latest(ctx, a.Click.Visitor, clickstore.Pseudonym{}, "abc")
				require.NoError(t, err)
				require.True(t, ok)
				assert.Equal(t, clients[i].Unmap(), held.RawAddr, "the tracker kept the full address, sealed; it opens while its key lives")
			}

			res, err := dumpScript.Run(ctx, client, nil, "{"+prefix+"}*").StringSlice()
			require.NoError(t, err)
			require.Greater(t, len(res), 4*len(clients), "every click is in the dump")
			dump := []byte(strings.Join(res, "\n"))
			// Pseudonyms and sealed values are random bytes, which can read
			// as some address ("c::f"): look for the clients' addresses,
			// and the IPv4 address the transition forms carry.
			ipmasktest.AssertNoRawIPOf(t, ipmask.Default, dump, append(clients, netip.MustParseAddr("203.0.113.9")), "the Redis keyspace")
			for _, a := range clients {
				a16 := a.As16()
				assert.False(t, bytes.Contains(dump, a16[:]), "the keyspace holds the 16 bytes of %s", a)
				if u := a.Unmap(); u.Is4() {
					a4 := u.As4()
					assert.False(t, bytes.Contains(dump, a4[:]), "the keyspace holds the 4 bytes of %s", a)
				}
			}
			if order != "no middleware" { // the tracker alone does not rewrite the request
				ipmasktest.AssertNoRawIP(t, ipmask.Default, seen.String(), "what the handler behind the middleware sees")
			}
			ipmasktest.AssertNoRawIP(t, ipmask.Default, log.Bytes(), "the tracker's log")
		})
	}
}
