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
// A KeyStore is safe for concurrent use. The zero KeyStore is not usable:
// build one with [NewKeyStore].
type KeyStore struct {
	client redis.UniversalClient
	prefix string
	maxTTL time.Duration
}

var _ retention.KeyStore = (*KeyStore)(nil)

// loadOrCreateScript returns the existing key or sets the candidate with
// the TTL (ms), atomically and without extending an existing key's TTL.
var loadOrCreateScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
`)

// NewKeyStore returns a KeyStore on client. A nil client is an error; a nil
// opts is valid.
func NewKeyStore(client redis.UniversalClient, opts *KeyStoreOptions) (*KeyStore, error) {
	if client == nil {
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

func (k *KeyStore) key(epoch int64) string { return k.prefix + strconv.FormatInt(epoch, 10) }

// LoadOrCreate returns epoch's key, storing candidate with ttl if there is
// none. ttl must be positive and at most two epochs.
func (k *KeyStore) LoadOrCreate(ctx context.Context, epoch int64, candidate [32]byte, ttl time.Duration) (_ [32]byte, err error) {
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
	v, err := loadOrCreateScript.Run(ctx, k.client, []string{k.key(epoch)}, string(candidate[:]), ms).Text()
	if err != nil {
		return [32]byte{}, fmt.Errorf("redisstore: key for epoch %d: %w", epoch, err)
	}
	return toSecret(epoch, v)
}

// Load returns epoch's key, or false if there is none (never created, or
// expired).
func (k *KeyStore) Load(ctx context.Context, epoch int64) (_ [32]byte, _ bool, err error) {
	defer errmask.Wrap(&err)
	v, err := k.client.Get(ctx, k.key(epoch)).Result()
	if errors.Is(err, redis.Nil) {
		return [32]byte{}, false, nil
	}
	if err != nil {
		return [32]byte{}, false, fmt.Errorf("redisstore: key for epoch %d: %w", epoch, err)
	}
	s, err := toSecret(epoch, v)
	return s, err == nil, err
}

func toSecret(epoch int64, v string) ([32]byte, error) {
	var s [32]byte
	if len(v) != len(s) {
		return s, fmt.Errorf("redisstore: key for epoch %d: stored key has %d bytes, want %d", epoch, len(v), len(s))
	}
	copy(s[:], v)
	return s, nil
}
