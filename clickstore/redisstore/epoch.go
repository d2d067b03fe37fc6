package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrKeyChanged is wrapped by the error Record and RecordBatch return when
// the epoch key this instance computes pseudonyms with is no longer the
// one in Redis: Redis lost it (a restart or a flush) or another instance
// created a new one since. The click's pseudonym then means nothing to the
// other instances, so its uniqueness is unknown; the store has made its
// keyring load the shared key again, so the instance's next clicks agree
// with the others. Only a store with both Options.Keyring and
// Options.KeyStore checks.
var ErrKeyChanged = errors.New("the epoch key changed in Redis")

// keyFingerprint caches the SHA-1 of the epoch key in use, boxed for the
// record script and raw for the fast path, to compare with the key in
// Redis. A SHA-1 of a 256-bit
// random key reveals nothing usable about it.
type keyFingerprint struct {
	epoch int64
	key   any // the epoch key's Redis name
	fp    any // its SHA-1, 40 hex digits
	sum   [sha1.Size]byte
}

// keyWatch is the restart detection of a Store.
type keyWatch struct {
	keys *KeyStore // nil: no check
	fp   atomic.Pointer[keyFingerprint]
}

// keyCheck returns the epoch key's name and the fingerprint to pass to the
// record script, or (time index, "") when the store does not check.
func (s *Store) keyCheck(ctx context.Context, now time.Time) (key, fp any, err error) {
	if s.watch.keys == nil {
		return s.timeIdxArg, "", nil
	}
	f, err := s.fingerprint(ctx, now)
	if err != nil {
		return nil, nil, err
	}
	return f.key, f.fp, nil
}

// fingerprint returns the fingerprint of the epoch key in use at now.
func (s *Store) fingerprint(ctx context.Context, now time.Time) (*keyFingerprint, error) {
	cur, _, err := s.keyring.Keys(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("redisstore: record: epoch key: %w", err)
	}
	if f := s.watch.fp.Load(); f != nil && f.epoch == cur.Epoch {
		return f, nil
	}
	secret := cur.Secret()
	sum := sha1.Sum(secret[:])
	clear(secret[:])
	f := &keyFingerprint{epoch: cur.Epoch, key: s.watch.keys.key(cur.Epoch), fp: hex.EncodeToString(sum[:]), sum: sum}
	s.watch.fp.Store(f)
	return f, nil
}

// checkKey reads the reply of a GET of the epoch key f names, sent in the
// same round trip as a fast-path Record, and returns the error of a key
// that is gone or another (see keyChanged), or nil if it is f's.
func (s *Store) checkKey(ctx context.Context, now time.Time, f *keyFingerprint, got *redis.Cmd) error {
	v, err := got.Text()
	switch {
	case errors.Is(err, redis.Nil):
		return s.keyChanged(ctx, now, -2)
	case err != nil:
		return s.recordErr(ctx, err)
	case sha1.Sum([]byte(v)) != f.sum:
		return s.keyChanged(ctx, now, -3)
	}
	return nil
}

// keyChanged handles a record script's report that the epoch key is gone
// (-2) or another (-3): it logs a warning, makes the keyring load the
// shared key again, and returns the error for the click.
func (s *Store) keyChanged(ctx context.Context, now time.Time, code int) error {
	what := "gone from Redis: the server restarted or was flushed, and the clicks it held (at most one window of per-visitor data, by design never persisted) are lost, so visitors seen before count as unique once more"
	s.fails.restarts.Add(1)
	if code == -3 {
		what = "not the one in Redis: another instance created a new key after Redis lost the old one"
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "redisstore: the epoch key this instance used is "+what+"; loading the shared key again",
		slog.Int64("epoch", s.keyring.Policy().Epoch(now)))
	s.watch.fp.Store(nil)
	// A Keyring drops its cache when swept at a time after its cached
	// epoch: the next Keys call then reads the shared key from the
	// KeyStore, creating it if it is still missing.
	_, _ = s.keyring.Sweep(ctx, now.Add(2*s.keyring.Policy().Window()))
	if code == -3 {
		return fmt.Errorf("redisstore: record: %w: another instance created a new key", ErrKeyChanged)
	}
	return fmt.Errorf("redisstore: record: %w: the key is gone from Redis", ErrKeyChanged)
}
