package clickstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"time"
	"unsafe"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// BuilderOptions configures [NewBuilder]. The zero value (or a nil pointer)
// means the defaults.
type BuilderOptions struct {
	// KeepRawAddr makes Build keep the visitor's full address in
	// Click.RawAddr. Off by default.
	//
	// This is the seed product's behaviour ("the IP is kept for 30
	// minutes in a secure store"). Its cost: for the whole window the store
	// holds personal data in the clear, which a memory dump, a Redis
	// replica or a backup can reveal, and every click carries 16 more bytes
	// that cannot be shared between visitors. Turn it on only for a
	// documented need (abuse investigation) that pseudonyms and masked
	// networks cannot meet.
	KeepRawAddr bool
}

// Builder makes Clicks from raw request data, computing the visitor's
// pseudonyms with a [retention.Keyring] and the masked network with an
// [ipmask.Policy].
//
// A Builder is safe for concurrent use. Its zero value is not usable: Build,
// BuildDigest and Pseudonyms return an error (build one with [NewBuilder]),
// as they do on a nil *Builder, whose Policy is the zero Policy.
type Builder struct {
	policy  ipmask.Policy
	keyring *retention.Keyring
	keepRaw bool
}

// NewBuilder returns a Builder that masks with policy and hashes with keys
// from keyring. A nil keyring is an error; a nil opts is valid.
func NewBuilder(policy ipmask.Policy, keyring *retention.Keyring, opts *BuilderOptions) (*Builder, error) {
	if keyring == nil {
		return nil, errors.New("clickstore: NewBuilder: nil keyring")
	}
	b := &Builder{policy: policy, keyring: keyring}
	if opts != nil {
		b.keepRaw = opts.KeepRawAddr
	}
	return b, nil
}

// Policy returns the masking policy b builds networks with.
func (b *Builder) Policy() ipmask.Policy {
	if b == nil {
		return ipmask.Policy{}
	}
	return b.policy
}

// AgentDigest is the SHA-256 of a user agent, the form in which a
// pseudonym hashes it (see the package documentation). A service that sees
// the same user agents again and again can compute each one's digest once,
// with [DigestAgent], and build with [Builder.BuildDigest].
//
// An AgentDigest is a small comparable value, safe to copy and share. The
// zero AgentDigest is not the digest of any user agent, not even of "".
type AgentDigest [sha256.Size]byte

// DigestAgent returns the digest of userAgent. It does not allocate.
func DigestAgent(userAgent string) AgentDigest {
	// The user agent is only read, so a view of it saves a copy.
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(userAgent), len(userAgent)))
}

// Build returns the Click of a visit at now from addr with userAgent to link:
// Kind KindClick, Visitor and PrevVisitor computed under the current and
// previous epoch keys, Network the masked network of addr, RawAddr set only
// with KeepRawAddr. The optional attributes (Country, Bot, Referrer,
// Device) are left for the caller to set.
//
// A zero addr, an empty or over-long link and a zero now are errors
// wrapping ErrInvalidClick; keyring failures are returned wrapped (a now
// outside the years 1678 to 2262 is one). Build checks nothing else of
// what [Click.Validate] checks: a link that is not text or holds an
// address comes back in a Click that Validate, and so every Store, refuses
// with ErrInvalidClick. Every Click Build returns without an error from
// an acceptable link passes Validate, whatever the address, user agent and
// policy.
//
// When the keyring's store fails and a local key stands in (see
// [retention.ErrLocalKey]), Build returns the complete Click together with
// an error wrapping retention.ErrLocalKey: its pseudonyms are computed
// under a key no other instance shares, so the click can be counted but
// its uniqueness is unknown, and it should not be recorded in a Store. Any
// other error comes with the zero Click.
//
// Build allocates nothing once the epoch's keys are cached.
func (b *Builder) Build(ctx context.Context, addr netip.Addr, userAgent, link string, now time.Time) (Click, error) {
	return b.BuildDigest(ctx, addr, DigestAgent(userAgent), link, now)
}

// BuildDigest is [Builder.Build] with the user agent's digest from
// [DigestAgent]. A zero digest is an error wrapping ErrInvalidClick.
func (b *Builder) BuildDigest(ctx context.Context, addr netip.Addr, ua AgentDigest, link string, now time.Time) (Click, error) {
	if link == "" || len(link) > MaxLinkLen {
		return Click{}, Click{Link: link}.Validate()
	}
	cur, prev, err := b.pseudonyms(ctx, addr, &ua, now)
	if err != nil && cur == (Pseudonym{}) {
		return Click{}, err
	}
	c := Click{
		Link:        link,
		Time:        now,
		Visitor:     cur,
		PrevVisitor: prev,
		Network:     b.policy.Prefix(addr),
	}
	if b.keepRaw {
		c.RawAddr = addr.Unmap().WithZone("")
	}
	return c, err // nil, or a local key's
}

// Pseudonyms returns the pseudonyms of the visitor at addr with userAgent
// under the keys of the epoch now falls in and of the previous epoch (zero
// if its key is gone). An erasure request needs both.
//
// A zero addr or now is an error wrapping ErrInvalidClick. While a local
// key stands in for the shared one, the pseudonyms are computed under it
// and returned with an error wrapping [retention.ErrLocalKey].
func (b *Builder) Pseudonyms(ctx context.Context, addr netip.Addr, userAgent string, now time.Time) (current, previous Pseudonym, err error) {
	ua := DigestAgent(userAgent)
	return b.pseudonyms(ctx, addr, &ua, now)
}

func (b *Builder) pseudonyms(ctx context.Context, addr netip.Addr, ua *AgentDigest, now time.Time) (current, previous Pseudonym, err error) {
	switch {
	case b == nil:
		return Pseudonym{}, Pseudonym{}, errors.New("clickstore: nil *Builder")
	case b.keyring == nil:
		return Pseudonym{}, Pseudonym{}, errors.New("clickstore: Builder not made by NewBuilder")
	case ctx == nil:
		return Pseudonym{}, Pseudonym{}, errors.New("clickstore: builder: nil context")
	}
	if !addr.IsValid() {
		return Pseudonym{}, Pseudonym{}, invalid("address", "zero address")
	}
	if *ua == (AgentDigest{}) {
		return Pseudonym{}, Pseudonym{}, invalid("user agent digest", "zero")
	}
	if now.IsZero() {
		return Pseudonym{}, Pseudonym{}, invalid("time", "zero")
	}
	kc, kp, err := b.keyring.Keys(ctx, now)
	if err != nil {
		err = fmt.Errorf("clickstore: keyring: %w", err)
		if kc.IsZero() || !errors.Is(err, retention.ErrLocalKey) {
			return Pseudonym{}, Pseudonym{}, err
		}
	}
	ip := addr.As16() // an IPv4 address and its mapped form agree; zones are ignored
	current = pseudonym(&kc, &ip, (*[32]byte)(ua))
	if !kp.IsZero() {
		previous = pseudonym(&kp, &ip, (*[32]byte)(ua))
	}
	return current, previous, err
}

// domain separates visitor pseudonyms from any other use of the keys. v2
// takes 128 bits of the agent's digest where v1 took 256, so that the
// message (53 bytes) fits the one SHA-256 block after the key's: a
// pseudonym costs two blocks from the key's saved states, not three.
const domain = "clickanon/visitor/v2\x00"

// pseudonym returns the first 16 bytes of
// HMAC-SHA256(key, domain || ip || ua[:16]), over a stack buffer so that it
// does not allocate.
func pseudonym(key *retention.Key, ip *[16]byte, ua *[32]byte) Pseudonym {
	var msg [len(domain) + 16 + 16]byte
	n := copy(msg[:], domain)
	n += copy(msg[n:], ip[:])
	copy(msg[n:], ua[:16])
	sum := key.MAC(msg[:])
	var p Pseudonym
	copy(p[:], sum[:])
	return p
}
