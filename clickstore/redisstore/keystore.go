package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clickanon/clickanon/internal/errmask"
	"github.com/clickanon/clickanon/retention"
)

// KeyStoreOptions configures [NewKeyStore]. The zero value (or nil) means
// the defaults.
type KeyStoreOptions struct {
	// Prefix starts every key, as Options.Prefix. Default DefaultPrefix.
	Prefix string

	// Policy is the keyring's retention policy. A key is never kept
	// longer than two of its epochs (its own and one grace epoch): a
	// longer TTL is an error. The zero Policy means the default window.
	Policy retention.Policy
}

// KeyStore is a [retention.KeyStore] on Redis, so that every instance uses
// the same epoch keys: the first instance to need an epoch's key creates it
// (its random candidate wins, atomically), the others load it. Each key is
// written once with a relative TTL (PX) that ends with its grace epoch and
// is never extended, so nothing lets a key outlive it.
//
// A key the store finds with no expiry, with one further off than two
// epochs, or all zero was not written by a KeyStore (a restore from a
// backup, a PERSIST, another tool): it is never used. Load and
// LoadOrCreate delete it, in the same script that read it, and return an
// error saying which fault it had, so that the keyring's failure is logged
// and counted and its next try creates a proper key.
//
// A key read from Redis passes through go-redis's buffers and a Go string,
// which cannot be zeroed; the KeyStore keeps no copy of its own. What
// destroys a key is its expiry in Redis and the keyring's own timers.
//
// A KeyStore is safe for concurrent use. The zero KeyStore is not usable:
// its methods return an error (build one with [NewKeyStore]); so do those
// of a nil *KeyStore, and a nil context.
type KeyStore struct {
	client redis.UniversalClient
	prefix string
	maxTTL time.Duration
}

var _ retention.KeyStore = (*KeyStore)(nil)

// checkKey is the Lua that gets the key in KEYS[1] into v and returns
// early, having deleted it, the fault of a key no KeyStore wrote: its
// PTTL (-1: no expiry; or above ARGV[1] ms) or 0 for an all-zero key.
const checkKey = `
local v = redis.call('GET', KEYS[1])
if v then
  local t = redis.call('PTTL', KEYS[1])
  if t < 0 or t > tonumber(ARGV[1]) or v == string.rep('\0', 32) then
    redis.call('DEL', KEYS[1])
    if t > 0 and v == string.rep('\0', 32) then t = 0 end
    return t
  end
end
`

// loadScript returns the key, nil if there is none, or the fault of a key
// no KeyStore wrote (see checkKey).
var loadScript = redis.NewScript(checkKey + `
if v then return v end
return false
`)

// loadOrCreateScript returns the existing key or sets the candidate
// (ARGV[2]) with the TTL (ARGV[3], ms), atomically and without extending
// an existing key's TTL; or the fault of a key no KeyStore wrote (see
// checkKey).
var loadOrCreateScript = redis.NewScript(checkKey + `
if v then return v end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return ARGV[2]
`)

// NewKeyStore returns a KeyStore on client. A nil client is an error; a nil
// opts is valid.
func NewKeyStore(client redis.UniversalClient, opts *KeyStoreOptions) (*KeyStore, error) {
	if nilClient(client) {
		return nil, errors.New("redisstore: NewKeyStore: nil client")
	}
	var o KeyStoreOptions
	if opts != nil {
		o = *opts
	}
	var err error
	if o.Prefix, err = checkPrefix(o.Prefix); err != nil {
		return nil, err
	}
	return &KeyStore{client: client, prefix: "{" + o.Prefix + "}:k:", maxTTL: 2 * o.Policy.Window()}, nil
}

// begin starts every method of KeyStore: it refuses a nil *KeyStore, one
// not made by NewKeyStore and a nil ctx.
func (k *KeyStore) begin(ctx context.Context) error {
	switch {
	case k == nil:
		return errors.New("redisstore: key store: nil *KeyStore")
	case k.client == nil:
		return errors.New("redisstore: key store: KeyStore not made by NewKeyStore")
	case ctx == nil:
		return errors.New("redisstore: key store: nil context")
	}
	return nil
}

func (k *KeyStore) key(epoch int64) string { return k.prefix + strconv.FormatInt(epoch, 10) }

// LoadOrCreate returns epoch's key, storing candidate with ttl if there is
// none. ttl must be positive and at most two epochs.
func (k *KeyStore) LoadOrCreate(ctx context.Context, epoch int64, candidate [32]byte, ttl time.Duration) (_ [32]byte, err error) {
	if err := k.begin(ctx); err != nil {
		return [32]byte{}, err
	}
	defer errmask.Wrap(&err)
	if ttl <= 0 || ttl > k.maxTTL {
		return [32]byte{}, fmt.Errorf("redisstore: key for epoch %d: ttl %v must be positive and at most %s", epoch, ttl, k.maxTTL)
	}
	if candidate == ([32]byte{}) {
		return [32]byte{}, fmt.Errorf("redisstore: key for epoch %d: candidate is all zero", epoch)
	}
	ms := ttl.Milliseconds()
	if ms == 0 {
		ms = 1
	}
	v, err := loadOrCreateScript.Run(ctx, k.client, []string{k.key(epoch)}, k.maxTTL.Milliseconds(), string(candidate[:]), ms).Result()
	if err != nil {
		return [32]byte{}, fmt.Errorf("redisstore: key for epoch %d: %w", epoch, err)
	}
	return k.secret(epoch, v)
}

// Load returns epoch's key, or false if there is none (never created, or
// expired).
func (k *KeyStore) Load(ctx context.Context, epoch int64) (_ [32]byte, _ bool, err error) {
	if err := k.begin(ctx); err != nil {
		return [32]byte{}, false, err
	}
	defer errmask.Wrap(&err)
	v, err := loadScript.Run(ctx, k.client, []string{k.key(epoch)}, k.maxTTL.Milliseconds()).Result()
	if errors.Is(err, redis.Nil) {
		return [32]byte{}, false, nil
	}
	if err != nil {
		return [32]byte{}, false, fmt.Errorf("redisstore: key for epoch %d: %w", epoch, err)
	}
	s, err := k.secret(epoch, v)
	return s, err == nil, err
}

// secret returns the key a script answered, or the error of the fault it
// reported (see checkKey).
func (k *KeyStore) secret(epoch int64, v any) ([32]byte, error) {
	var s [32]byte
	switch v := v.(type) {
	case string:
		if len(v) != len(s) {
			return s, fmt.Errorf("redisstore: key for epoch %d: stored key has %d bytes, want %d", epoch, len(v), len(s))
		}
		copy(s[:], v)
		return s, nil
	case int64:
		fault := "no expiry"
		switch {
		case v == 0:
			fault = "all zero bytes"
		case v > 0:
			fault = fmt.Sprintf("an expiry %s away, beyond two epochs (%s)", time.Duration(v)*time.Millisecond, k.maxTTL)
		}
		return s, fmt.Errorf("redisstore: key for epoch %d: the stored key had %s, so no KeyStore wrote it (a restore from a backup, a PERSIST?); deleted, never used", epoch, fault)
	}
	return s, fmt.Errorf("redisstore: key for epoch %d: the key script answered a %T", epoch, v)
}
