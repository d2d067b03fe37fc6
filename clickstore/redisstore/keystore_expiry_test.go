package redisstore_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/retention"
)

// An epoch key that no KeyStore wrote (restored from a backup without its
// expiry, made persistent by PERSIST, written by another tool) would keep
// every pseudonym made with it recomputable for as long as it stays. The
// KeyStore never uses such a key: Load and LoadOrCreate delete it and
// fail, saying which fault it had, and the next LoadOrCreate makes a key
// that expires with its grace epoch.
func TestKeyStoreNeverUsesAKeyItDidNotWrite(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := newClient(t, srv.Addr())
	ctx := context.Background()
	w := retention.DefaultWindow
	secret := strings.Repeat("k", 32)

	for _, tc := range []struct {
		name  string
		value string
		ttl   time.Duration // 0: none
		fault string
	}{
		{"no expiry", secret, 0, "no expiry"},
		{"expiry beyond two epochs", secret, 2*w + time.Minute, "beyond two epochs"},
		{"a day's expiry", secret, 24 * time.Hour, "beyond two epochs"},
		{"all zero, with a proper expiry", strings.Repeat("\x00", 32), w, "all zero"},
		{"all zero, no expiry", strings.Repeat("\x00", 32), 0, "no expiry"},
	} {
		for _, op := range []string{"Load", "LoadOrCreate"} {
			t.Run(tc.name+"/"+op, func(t *testing.T) {
				ks, err := redisstore.NewKeyStore(client, &redisstore.KeyStoreOptions{Prefix: prefix(t)})
				require.NoError(t, err)
				const epoch = 41
				name := "{" + prefix(t) + "}:k:" + strconv.Itoa(epoch)
				require.NoError(t, client.Set(ctx, name, tc.value, tc.ttl).Err())

				switch op {
				case "Load":
					got, ok, err := ks.Load(ctx, epoch)
					require.Error(t, err)
					assert.False(t, ok)
					assert.Zero(t, got)
					assert.Contains(t, err.Error(), tc.fault)
				case "LoadOrCreate":
					got, err := ks.LoadOrCreate(ctx, epoch, [32]byte{9}, w)
					require.Error(t, err)
					assert.Zero(t, got)
					assert.Contains(t, err.Error(), tc.fault)
				}
				assert.Zero(t, client.Exists(ctx, name).Val(), "the key no KeyStore wrote is deleted")

				got, err := ks.LoadOrCreate(ctx, epoch, [32]byte{9}, w)
				require.NoError(t, err)
				assert.Equal(t, [32]byte{9}, got, "the next try makes a proper key")
				ttl := client.PTTL(ctx, name).Val()
				assert.Greater(t, ttl, time.Duration(0))
				assert.LessOrEqual(t, ttl, w)
			})
		}
	}
}

// A key a KeyStore wrote is used as it is, its TTL untouched, by every
// instance, whichever window their policy has: an instance with a longer
// window accepts the key of one with a shorter, and a later LoadOrCreate
// with a longer ttl never extends it.
func TestKeyStoreKeepsAProperKeysExpiry(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := newClient(t, srv.Addr())
	ctx := context.Background()
	w := retention.DefaultWindow
	short, err := redisstore.NewKeyStore(client, &redisstore.KeyStoreOptions{Prefix: prefix(t)})
	require.NoError(t, err)
	hour, err := retention.NewPolicy(time.Hour, nil)
	require.NoError(t, err)
	long, err := redisstore.NewKeyStore(client, &redisstore.KeyStoreOptions{Prefix: prefix(t), Policy: hour})
	require.NoError(t, err)

	k, err := short.LoadOrCreate(ctx, 5, [32]byte{1}, w/2)
	require.NoError(t, err)
	name := "{" + prefix(t) + "}:k:5"
	before := client.PTTL(ctx, name).Val()
	require.Greater(t, before, time.Duration(0))

	got, err := long.LoadOrCreate(ctx, 5, [32]byte{2}, 2*w)
	require.NoError(t, err)
	assert.Equal(t, k, got)
	got, ok, err := long.Load(ctx, 5)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, k, got)
	assert.LessOrEqual(t, client.PTTL(ctx, name).Val(), before, "never extended")
}
