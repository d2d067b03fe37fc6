package retention

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// Key is the secret of one epoch: a 256-bit random value from which visitor
// pseudonyms for that epoch are computed, and the epoch it belongs to.
//
// A Key is a small comparable value, safe to copy and to use from many
// goroutines at once. The zero Key (see [Key.IsZero]) means "no key", e.g.
// no previous epoch's key within its grace. Keys come from a [Keyring]; a
// Key built any other way has an all-zero secret and is the zero Key for
// its epoch.
//
// A Key from a Keyring also carries the hash states [Key.MAC] starts
// from, derived from the secret and zeroed with it.
//
// Destroying a key zeroes the copies the keyring and its in-memory store
// hold, not the copies Keys handed out: a Key value kept by a caller still
// computes pseudonyms after its epoch's grace. Ask the keyring for the keys
// of each click, as package clickstore's Builder does, and keep none.
//
// Formatting a Key with fmt (any verb) or logging it with log/slog shows the
// epoch only, never the secret.
type Key struct {
	// Epoch is the number of the epoch the key belongs to (see
	// [Policy.Epoch]).
	Epoch int64

	secret [32]byte
	pads   macPads // derived from secret, see MAC
}

// Secret returns the key's 256 secret bits.
//
// Warning: the secret is what makes pseudonyms irreversible. Use it only to
// compute keyed hashes (as package clickstore does) or to hand it to a
// [KeyStore]. Never log it, persist it beyond its grace epoch, or derive
// other long-lived values from it.
func (k Key) Secret() [32]byte { return k.secret }

// IsZero reports whether k has no secret, i.e. is not a usable key.
func (k Key) IsZero() bool { return k.secret == [32]byte{} }

// String returns "retention.Key(epoch N)", or "retention.Key(none)" for
// the zero Key. It never shows the secret.
func (k Key) String() string {
	if k.IsZero() {
		return "retention.Key(none)"
	}
	return "retention.Key(epoch " + strconv.FormatInt(k.Epoch, 10) + ")"
}

// Format implements [fmt.Formatter] so that no verb (%v, %+v, %#v, %x, %d...)
// prints the secret: every verb prints [Key.String].
func (k Key) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(k.String())) }

// LogValue implements [slog.LogValuer]: a Key logs as its epoch only.
func (k Key) LogValue() slog.Value {
	if k.IsZero() {
		return slog.StringValue("none")
	}
	return slog.Int64Value(k.Epoch)
}

// KeyStore is where a [Keyring] keeps epoch keys. Implementations must be
// safe for concurrent use; several Keyrings (on several machines) may share
// one store, and the store is what makes them agree on one key per epoch.
type KeyStore interface {
	// LoadOrCreate returns the key stored for epoch, first storing
	// candidate if there is none, atomically: when many callers race, all
	// of them get the same winning key. The stored key must be destroyed
	// (deleted, and its bytes zeroed where the store can) no later than
	// ttl after the call; ttl is relative so that the store needs no
	// clock agreement with the caller. ttl is positive.
	LoadOrCreate(ctx context.Context, epoch int64, candidate [32]byte, ttl time.Duration) ([32]byte, error)

	// Load returns the key stored for epoch and true, or false if there is
	// none (never stored, or already destroyed). Load never creates a key.
	// Each epoch has a key of its own: a Keyring treats the same key for
	// two epochs as a failure of the store.
	Load(ctx context.Context, epoch int64) (secret [32]byte, ok bool, err error)
}
