package geo_test

import (
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/geo"
	"github.com/clickanon/clickanon/internal/testlog"
)

type lockedBuffer = testlog.Buffer

// The watcher reloads a changed file on its own, keeps the last good
// database when the new file is broken, and logs that at most once per
// LogEvery with a count of the suppressed lines.
func TestWatcher(t *testing.T) {
	de := buildDB(t, 6, "v1", []network{{"198.51.100.0/24", geoLite2("DE", "EU", 0)}})
	fr := buildDB(t, 6, "v2", []network{{"198.51.100.0/24", geoLite2("FR", "EU", 0)}})
	path := writeDB(t, de)
	a := netip.MustParseAddr("198.51.100.1")
	synctest.Test(t, func(t *testing.T) {
		var logs lockedBuffer
		db, err := geo.Open(path, &geo.Options{
			CheckEvery: 10 * time.Second,
			LogEvery:   time.Minute,
			Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
		})
		require.NoError(t, err)
		assert.Equal(t, "DE", db.Country(a))

		replaceFile(t, path, fr)
		time.Sleep(15 * time.Second) // the check at 10 s
		synctest.Wait()
		assert.Equal(t, "FR", db.Country(a))
		assert.Len(t, logs.Lines("geo: database reloaded"), 1)

		replaceFile(t, path, []byte("broken"))
		time.Sleep(10 * time.Second) // the check at 20 s fails and logs
		synctest.Wait()
		assert.Equal(t, "FR", db.Country(a), "the last good database stays")
		assert.Len(t, logs.Lines("level=ERROR"), 1)

		time.Sleep(50 * time.Second) // checks at 30…70 s fail, counted
		synctest.Wait()
		assert.Len(t, logs.Lines("level=ERROR"), 1, "rate-limited")

		time.Sleep(10 * time.Second) // the check at 80 s, a minute after the first line
		synctest.Wait()
		errs := logs.Lines("level=ERROR")
		require.Len(t, errs, 2)
		assert.Contains(t, errs[1], "suppressed=5")
		assert.Contains(t, errs[1], "geo: not a valid MaxMind DB file (6 bytes)")

		replaceFile(t, path, de)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		assert.Equal(t, "DE", db.Country(a))
		assert.Len(t, logs.Lines("geo: database reloaded"), 2)

		require.NoError(t, db.Close())
		require.NoError(t, db.Close(), "Close is idempotent")
		replaceFile(t, path, fr)
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Equal(t, "DE", db.Country(a), "no reload after Close; lookups still answer")
		assertNoAddress(t, strings.Join(logs.Lines(""), ""))
	})
}

// A clock set back by more than LogEvery does not silence the log.
func TestLogLimitClockSetBack(t *testing.T) {
	var now atomic.Int64 // Unix nanoseconds; the watcher reads it
	now.Store(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	var logs lockedBuffer
	data := buildDB(t, 6, "v1", []network{{"198.51.100.0/24", geoLite2("DE", "EU", 0)}})
	path := writeDB(t, data)
	synctest.Test(t, func(t *testing.T) {
		db, err := geo.Open(path, &geo.Options{
			CheckEvery: time.Second,
			Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
			Now:        func() time.Time { return time.Unix(0, now.Load()) },
		})
		require.NoError(t, err)
		defer db.Close()
		replaceFile(t, path, []byte("broken"))
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		require.Len(t, logs.Lines("level=ERROR"), 1)
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Len(t, logs.Lines("level=ERROR"), 1, "within LogEvery")
		now.Add(-int64(time.Hour))
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Len(t, logs.Lines("level=ERROR"), 2, "the clock went back an hour")
	})
}
