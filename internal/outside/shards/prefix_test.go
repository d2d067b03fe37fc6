package shards_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/retention"
)

// prefixes are key prefixes of every form a service may configure: the
// default (""), the default spelt out by another service, one the start of
// another ("a", "a:c", "a:c:"), glob characters that SCAN MATCH reads
// (which must not make one store's pattern match another's keys), a
// backslash, bytes that are not UTF-8, a NUL, CR LF, a space, and a long one.
var prefixes = []struct{ name, p string }{
	{"empty", ""},
	{"a", "a"},
	{"a:c", "a:c"},
	{"a:c:", "a:c:"},
	{"colon", ":"},
	{"a:a:1:", "a:a:1:"},
	{"star", "a*"},
	{"question", "a?"},
	{"class", "[a]"},
	{"backslash", `a\`},
	{"not UTF-8", "a\xff\xfe"},
	{"NUL", "a\x00c"},
	{"CR LF", "a\r\n"},
	{"space", "a c"},
	{"long", strings.Repeat("p:", 4000)},
}

// TestPrefixesShareAServer checks "a key prefix option so several services
// share a server" and "every key carries the hash tag {P}, so all of a
// store's keys are in one Cluster slot" for prefixes of every form, the
// Store, its KeyStore and a Sink of each on one server, all with the same
// visitors and links (the worst case for a collision). Each prefix writes
// in turn, so the keys it adds are its own: every one of them is in the
// slot of {P} (the Sink's in its link's slot), and has a TTL. Then each
// prefix in turn reads and erases everything (Latest, EraseVisitor,
// EraseLink, Sink.EraseLink, a Sweep past the window, Clear): it sees its
// own clicks only (the counts are exact, every click read is its own) and
// every key of every other prefix is left byte for byte as it was.
//
// After each prefix's erasures every key of the server has a lifetime within
// its documented bound (checkLifetimes).
//
// Checked to fail: a store of prefix "a" whose KeyStore and Sink keys are
// compared with another's (same own-key set given to two prefixes) fails
// the "left as it was" check; a wrong expected slot (slot of P without the
// braces for a long prefix) fails the slot check.
func TestPrefixesShareAServer(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	admin := plainClient(t, srv.Addr())
	clk := newClock(base)
	links := []string{"l0", "l1", "a*", "{x}"}
	const visitors = 6

	type member struct {
		name string
		in   *instance
		sink *redisstore.Sink
		own  map[string]bool
		idx  int
	}
	var ms []*member
	for i, pp := range prefixes {
		c := plainClient(t, srv.Addr())
		in := join(t, c, pp.p, clk.now, nil)
		sink, err := redisstore.NewSink(c, &redisstore.SinkOptions{Prefix: pp.p, Now: clk.now, Logger: quiet})
		require.NoError(t, err)
		before := scanAll(t, admin)
		for v := range visitors {
			for j, link := range links {
				ck := clickOf(visitor(v), link, clk.now().Add(-time.Duration(i)*time.Millisecond))
				if (v+j)%3 == 0 {
					us, err := in.store.RecordBatch(ctx, []clickstore.Click{ck, ck})
					require.NoError(t, err, pp.name)
					require.Equal(t, []clickstore.Uniqueness{clickstore.Unique, clickstore.Repeat}, us, pp.name)
				} else {
					first, err := in.store.Record(ctx, ck)
					require.NoError(t, err, pp.name)
					require.True(t, first, "%s: each prefix holds its own first clicks", pp.name)
				}
				require.NoError(t, sink.Add(ctx, ck, clickstore.Unique), pp.name)
			}
		}
		// A click built through the keyring makes the KeyStore write its key.
		bc, err := in.builder.Build(ctx, mustAddr("198.51.100.9"), "ua", "built", clk.now())
		require.NoError(t, err)
		_, err = in.store.Record(ctx, bc)
		require.NoError(t, err)
		require.NoError(t, in.store.Flush(ctx))
		m := &member{name: pp.name, in: in, sink: sink, own: map[string]bool{}, idx: i}
		for k, d := range scanAll(t, admin) {
			if _, ok := before[k]; ok {
				continue
			}
			m.own[k] = true
			if strings.HasPrefix(k, "{") { // the Sink's day buckets are kept by default
				assert.Positive(t, d, "%s: key %q has a TTL", pp.name, k)
			}
		}
		require.NotEmpty(t, m.own)
		p := pp.p
		if p == "" {
			p = redisstore.DefaultPrefix
		}
		want := slotOf("{" + p + "}")
		sinkKeys := 0
		for k := range m.own {
			if strings.HasPrefix(k, "{"+p+"}:") {
				assert.Equal(t, want, slotOf(k), "%s: a store key in the prefix's slot", pp.name)
				continue
			}
			require.True(t, strings.HasPrefix(k, p+":a:"), "%s: a key %q that is neither the store's nor the sink's", pp.name, k)
			sinkKeys++
		}
		assert.Positive(t, sinkKeys, pp.name)
		ms = append(ms, m)
	}

	for _, m := range ms {
		t.Run(m.name, func(t *testing.T) {
			others := values(t, admin)
			for k := range m.own {
				delete(others, k)
			}
			s := m.in.store
			for v := range visitors {
				for _, link := range links {
					got, ok, err := s.Latest(ctx, visitor(v), clickstore.Pseudonym{}, link)
					require.NoError(t, err)
					if assert.True(t, ok) {
						assert.Equal(t, base.Add(-time.Duration(m.idx)*time.Millisecond), got.Time.UTC(), "its own click")
					}
				}
				got, ok, err := s.Latest(ctx, visitor(v), clickstore.Pseudonym{}, "")
				require.NoError(t, err)
				if assert.True(t, ok) {
					assert.Equal(t, base.Add(-time.Duration(m.idx)*time.Millisecond), got.Time.UTC(), "its own click")
				}
			}
			n := 0
			for _, err := range s.All(ctx) {
				require.NoError(t, err)
				n++
			}
			assert.Equal(t, visitors*len(links)+1, n, "All lists its own clicks only")
			n, err := s.EraseVisitor(ctx, visitor(0))
			require.NoError(t, err)
			assert.Equal(t, len(links), n, "EraseVisitor erases its own clicks only")
			n, err = s.EraseLink(ctx, "a*")
			require.NoError(t, err)
			assert.Equal(t, visitors-1, n, "EraseLink erases its own clicks only (a glob link too)")
			n, err = m.sink.EraseLink(ctx, "l1")
			require.NoError(t, err)
			assert.Positive(t, n)
			n, err = m.sink.EraseLink(ctx, "a*")
			require.NoError(t, err)
			assert.Positive(t, n)
			st, err := s.Sweep(ctx, base.Add(time.Hour))
			require.NoError(t, err)
			assert.Equal(t, (visitors-1)*(len(links)-1)+1, st.Deleted, "Sweep sees its own clicks only: %+v", st)
			assert.Zero(t, st.Held)
			n, err = s.Clear(ctx)
			require.NoError(t, err)
			assert.Zero(t, n)
			after := values(t, admin)
			checkLifetimes(t, scanAll(t, admin))
			for k, v := range others {
				if !assert.Contains(t, after, k, "another prefix's key was deleted") {
					continue
				}
				assert.Equal(t, v, after[k], "another prefix's key %q was changed", k)
			}
		})
	}
}

// TestBracedPrefixRefused checks "It must not contain '{' or '}'" for each
// constructor that takes a prefix: Store, KeyStore and Sink refuse it with
// an error that starts with the package name and does not echo the prefix.
//
// Checked to fail: with "a" added to the refused list, the NoError check
// of New reports it.
func TestBracedPrefixRefused(t *testing.T) {
	srv := startRedis(t)
	c := plainClient(t, srv.Addr())
	for _, p := range []string{"{", "}", "a{b", "a}b", "{secret-10.1.2.3}", "x}{y", strings.Repeat("z", 300) + "{"} {
		_, err := redisstore.New(context.Background(), c, &redisstore.Options{Prefix: p, Logger: quiet})
		checkRefused(t, err, p, "New")
		_, err = redisstore.NewKeyStore(c, &redisstore.KeyStoreOptions{Prefix: p})
		checkRefused(t, err, p, "NewKeyStore")
		_, err = redisstore.NewSink(c, &redisstore.SinkOptions{Prefix: p})
		checkRefused(t, err, p, "NewSink")
	}
	keys := scanAll(t, c)
	assert.Empty(t, keys, "a refused prefix writes nothing")
}

func checkRefused(t *testing.T, err error, p, what string) {
	t.Helper()
	if !assert.Error(t, err, "%s with prefix %q", what, p) {
		return
	}
	assert.True(t, strings.HasPrefix(err.Error(), "redisstore"), "%s: %v", what, err)
	if len(p) > 2 { // a lone brace is in the rule the message states
		assert.NotContains(t, err.Error(), p, what)
		assert.NotContains(t, err.Error(), fmt.Sprintf("%q", p), what)
	}
}

// checkLifetimes checks every key of a server against its documented
// lifetime: a store key ({P}:...) has a TTL, at most two epochs for an
// epoch key ({P}:k:...) and at most the window plus the 2 s slack for the
// rest (markers, indexes, erasures' done keys); a Sink's request token
// (...:r:...) expires within two minutes.
func checkLifetimes(t *testing.T, keys map[string]time.Duration) {
	t.Helper()
	const slack = 2 * time.Second
	for k, d := range keys {
		switch {
		case d == -2: // expired between SCAN and PTTL
		case strings.HasPrefix(k, "{") && strings.Contains(k, "}:k:"):
			assert.Positive(t, d, "epoch key %q expires", k)
			assert.LessOrEqual(t, d, 2*retentionWindow, "epoch key %q lives two epochs at most", k)
		case strings.HasPrefix(k, "{"):
			assert.Positive(t, d, "store key %q expires", k)
			assert.LessOrEqual(t, d, retentionWindow+slack, "store key %q lives W plus the slack at most", k)
		case strings.Contains(k, "}:r:"):
			assert.Positive(t, d, "sink token %q expires", k)
			assert.LessOrEqual(t, d, 2*time.Minute, "sink token %q lives two minutes at most", k)
		}
	}
}

// TestKeyStoreOfAnotherPrefixRefused checks "It [Options.KeyStore] must
// have the store's Prefix": New refuses a KeyStore of a prefix that is
// the start of the store's, or that the store's is the start of, and
// accepts the default spelt either way.
//
// Checked to fail: expecting "a" and "a:c" to be accepted fails.
func TestKeyStoreOfAnotherPrefixRefused(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	c := plainClient(t, srv.Addr())
	for _, tc := range []struct {
		store, keys string
		ok          bool
	}{
		{"a", "a:c", false}, {"a:c", "a", false}, {"a", "a ", false}, {"", "clickanon", true}, {"clickanon", "", true}, {"a:c", "a:c", true},
	} {
		ks, err := redisstore.NewKeyStore(c, &redisstore.KeyStoreOptions{Prefix: tc.keys})
		require.NoError(t, err)
		kr, err := retention.NewKeyring(&retention.KeyringOptions{Store: ks, Logger: quiet})
		require.NoError(t, err)
		t.Cleanup(func() { _ = kr.Close() })
		s, err := redisstore.New(ctx, c, &redisstore.Options{Prefix: tc.store, KeyStore: ks, Keyring: kr, Logger: quiet})
		if tc.ok {
			if assert.NoError(t, err, "%q and %q", tc.store, tc.keys) {
				_ = s.Close()
			}
			continue
		}
		if assert.Error(t, err, "%q and %q", tc.store, tc.keys) {
			assert.True(t, strings.HasPrefix(err.Error(), "redisstore"), err.Error())
			assert.Contains(t, err.Error(), "Prefix", "refused for its prefix")
		}
	}
}
