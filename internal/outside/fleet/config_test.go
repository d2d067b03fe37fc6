package fleet_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/retention"
)

// TestNewRefusesEveryPersistingOrEvictingSetting checks "Persistence
// must be off" over the class of server settings rather than one of each:
// every maxmemory-policy Redis has (only noeviction is accepted), several
// save schedules, appendonly on, and their combinations, each set on a
// running server with CONFIG SET. Without the override New refuses with
// the documented sentinel (errors.Is), an error that starts with the
// package's name and holds neither the server's address nor its port, and
// names the option to set; with the override (only the matching one) it
// succeeds and logs one warning naming the setting; with the other
// override alone it still refuses.
//
// Checked to fail: with "allkeys-lru" moved to the accepted policies, the
// row is reported (New refuses it); with the port appended to the error
// text (an echo of the server's address), the address check reports it.
func TestNewRefusesEveryPersistingOrEvictingSetting(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	c := client(t, srv.Addr())
	host, port := "127.0.0.1", srv.Addr()[strings.LastIndexByte(srv.Addr(), ':')+1:]
	set := func(kv ...string) {
		t.Helper()
		for i := 0; i < len(kv); i += 2 {
			_, err := redistest.Do(srv.Addr(), "CONFIG", "SET", kv[i], kv[i+1])
			require.NoError(t, err)
		}
	}
	reset := func() { set("save", "", "appendonly", "no", "maxmemory-policy", "noeviction") }
	type row struct {
		name     string
		settings []string
		persist  bool // refused with ErrPersistence
		evict    bool // refused with ErrEviction
	}
	rows := []row{{name: "nothing", settings: nil}}
	for _, pol := range []string{"noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"} {
		rows = append(rows, row{name: "policy " + pol, settings: []string{"maxmemory-policy", pol}, evict: pol != "noeviction"})
	}
	for _, save := range []string{"3600 1", "1 1", "900 1 300 10 60 10000"} {
		rows = append(rows, row{name: "save " + save, settings: []string{"save", save}, persist: true})
	}
	rows = append(rows,
		row{name: "appendonly", settings: []string{"appendonly", "yes"}, persist: true},
		row{name: "appendonly and save", settings: []string{"appendonly", "yes", "save", "60 1"}, persist: true},
		row{name: "everything", settings: []string{"appendonly", "yes", "save", "60 1", "maxmemory-policy", "volatile-ttl"}, persist: true, evict: true},
		row{name: "appendonly and allkeys-lfu", settings: []string{"appendonly", "yes", "maxmemory-policy", "allkeys-lfu"}, persist: true, evict: true},
	)
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			reset()
			set(r.settings...)
			defer reset()
			for _, allow := range []struct{ persist, evict bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
				var logs bytes.Buffer
				s, err := redisstore.New(ctx, c, &redisstore.Options{Prefix: prefix(), AllowPersistence: allow.persist, AllowEviction: allow.evict,
					Logger: slog.New(slog.NewTextHandler(&logs, nil))})
				refused := (r.persist && !allow.persist) || (r.evict && !allow.evict)
				if !refused {
					if assert.NoError(t, err, "allow %+v", allow) {
						_ = s.Close()
					}
					if r.persist {
						assert.Contains(t, logs.String(), "AllowPersistence", "an accepted persisting server is logged")
					}
					if r.evict {
						assert.Contains(t, logs.String(), "AllowEviction", "an accepted evicting policy is logged")
					}
					if !r.persist && !r.evict {
						assert.NotContains(t, logs.String(), "WARN", "a safe server logs no warning")
					}
					continue
				}
				if !assert.Error(t, err, "allow %+v", allow) {
					_ = s.Close()
					continue
				}
				msg := err.Error()
				assert.True(t, strings.HasPrefix(msg, "redisstore: "), "error %q starts with the package name", msg)
				assert.NotContains(t, msg, host)
				assert.NotContains(t, msg, port)
				if r.persist && !allow.persist {
					assert.ErrorIs(t, err, redisstore.ErrPersistence)
					assert.Contains(t, msg, "AllowPersistence")
				} else {
					assert.NotErrorIs(t, err, redisstore.ErrPersistence)
					assert.ErrorIs(t, err, redisstore.ErrEviction)
					assert.Contains(t, msg, "AllowEviction")
				}
			}
		})
	}
}

// TestRefusedServerGetsNoEpochKey follows the README's order of
// construction (NewKeyStore, NewKeyring on it, New) on a server that
// persists with the harness's default snapshot settings: New refuses it,
// and by then nothing of the fleet, no epoch key in particular (the key
// that makes pseudonyms reversible while it lives), may be on that
// server, or its next snapshot keeps it past its epoch.
//
// Checked to fail: with a Keys call on the keyring before New (what a
// Builder does on the first click), the epoch key is reported.
func TestRefusedServerGetsNoEpochKey(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Persistence: true})
	ctx := context.Background()
	c := client(t, srv.Addr())
	p := prefix()
	keys, err := redisstore.NewKeyStore(c, &redisstore.KeyStoreOptions{Prefix: p})
	require.NoError(t, err)
	kr, err := retention.NewKeyring(&retention.KeyringOptions{Store: keys, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer kr.Close()
	_, err = redisstore.New(ctx, c, &redisstore.Options{Prefix: p, Keyring: kr, KeyStore: keys})
	require.ErrorIs(t, err, redisstore.ErrPersistence)
	n, err := c.DBSize(ctx).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "a refused server holds nothing of the fleet")
}
