package clientip

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync/atomic"

	"go4.org/netipx"
)

// Trusted is the set of proxies whose forwarding headers are believed: a
// header strategy reads a header only when the connecting peer is in the
// set. Addresses are looked up after unmapping IPv4-mapped IPv6 and
// dropping any zone, so ::ffff:10.0.0.1 is trusted exactly when 10.0.0.1 is.
//
// The set can be replaced at run time with [Trusted.Update] or
// [Trusted.Store] (CDN address ranges change) while requests are being
// resolved; a [Resolver] reads the set once per resolution, so each
// request is resolved with the old set or with the new one, never with a
// mix of the two.
//
// The zero Trusted is an empty set, ready to use, and a nil *Trusted
// trusts nothing. A Trusted is safe for concurrent use; it must not be
// copied after first use.
type Trusted struct {
	set atomic.Pointer[trustedSet]
}

// trustedSet is one immutable version of a [Trusted]: the IPSet as given,
// and its ranges by family as integers, which a lookup searches in a few
// nanoseconds (IPSet.Contains compares netip.Addr values through a
// sort.Search closure). A nil *trustedSet is empty.
type trustedSet struct {
	ipset *netipx.IPSet
	v4    []range4
	v6    []range6
}

// range4 and range6 are inclusive address ranges, sorted and disjoint.
type range4 struct{ from, to uint32 }

type range6 struct{ from, to uint128 }

// uint128 is an IPv6 address as two big-endian halves.
type uint128 struct{ hi, lo uint64 }

func (u uint128) less(v uint128) bool { return u.hi < v.hi || u.hi == v.hi && u.lo < v.lo }

func u128(a netip.Addr) uint128 {
	b := a.As16()
	return uint128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// newTrustedSet indexes s; a nil s is the empty set.
func newTrustedSet(s *netipx.IPSet) *trustedSet {
	if s == nil {
		s = new(netipx.IPSet)
	}
	t := &trustedSet{ipset: s}
	for _, r := range s.Ranges() {
		if r.From().Is4() {
			t.v4 = append(t.v4, range4{u32(r.From()), u32(r.To())})
		} else {
			t.v6 = append(t.v6, range6{u128(r.From()), u128(r.To())})
		}
	}
	return t
}

// contains reports whether a, unmapped and without its zone, is in t. It
// answers as t.ipset.Contains(a.Unmap().WithZone("")) does: IPv4 ranges
// hold IPv4 addresses only, so an IPv4-mapped range in a set given to
// Store matches nothing.
func (t *trustedSet) contains(a netip.Addr) bool {
	if t == nil || !a.IsValid() {
		return false
	}
	if a = a.Unmap(); a.Is4() {
		v, rr := u32(a), t.v4
		// Binary search for the last range starting at or before v.
		lo, hi := 0, len(rr)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if rr[m].from <= v {
				lo = m + 1
			} else {
				hi = m
			}
		}
		return lo > 0 && v <= rr[lo-1].to
	}
	v, rr := u128(a), t.v6
	lo, hi := 0, len(rr)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if !v.less(rr[m].from) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo > 0 && !rr[lo-1].to.less(v)
}

// NewTrusted returns the set of proxies in prefixes, each a CIDR prefix
// ("10.0.0.0/8", "2001:db8::/32") or a single address ("192.0.2.7"). An
// entry that does not parse, has bits set after its prefix length, carries
// a zone, or is a /0 (trusting every address lets any client choose its
// own) is an error naming it by position (1 is the first), never quoting
// it. No prefixes gives an empty set, to be filled
// later with [Trusted.Update].
func NewTrusted(prefixes ...string) (*Trusted, error) {
	s, err := buildStrings(prefixes)
	if err != nil {
		return nil, err
	}
	t := new(Trusted)
	t.set.Store(newTrustedSet(s))
	return t, nil
}

// NewTrustedPrefixes is [NewTrusted] for prefixes already parsed. It
// rejects the same prefixes, and the zero Prefix.
func NewTrustedPrefixes(prefixes ...netip.Prefix) (*Trusted, error) {
	s, err := buildPrefixes(prefixes)
	if err != nil {
		return nil, err
	}
	t := new(Trusted)
	t.set.Store(newTrustedSet(s))
	return t, nil
}

// Update validates prefixes as [NewTrusted] does and, if every one is
// valid, atomically replaces the set with them. On error the set is left
// as it was. Update on a nil *Trusted is an error.
func (t *Trusted) Update(prefixes ...string) error {
	if t == nil {
		return fmt.Errorf("clientip: Update on a nil *Trusted")
	}
	s, err := buildStrings(prefixes)
	if err != nil {
		return err
	}
	t.set.Store(newTrustedSet(s))
	return nil
}

// Store atomically replaces the set with s, which the caller must not
// modify afterwards (an [netipx.IPSet] is immutable once built). A nil s
// empties the set. s is used as it is: IPv4-mapped prefixes in it match
// nothing, since lookups unmap, and a set holding every address is the
// caller's choice. Store on a nil *Trusted does nothing.
func (t *Trusted) Store(s *netipx.IPSet) {
	if t == nil {
		return
	}
	t.set.Store(newTrustedSet(s))
}

// IPSet returns the current set, never nil. It must not be modified.
func (t *Trusted) IPSet() *netipx.IPSet {
	if t != nil {
		if s := t.set.Load(); s != nil {
			return s.ipset
		}
	}
	return new(netipx.IPSet)
}

// Contains reports whether a, unmapped and without its zone, is a trusted
// proxy. The zero Addr is never trusted. Contains does not allocate.
func (t *Trusted) Contains(a netip.Addr) bool {
	return t != nil && t.set.Load().contains(a)
}

func buildStrings(prefixes []string) (*netipx.IPSet, error) {
	var b netipx.IPSetBuilder
	for i, s := range prefixes {
		p, err := parsePrefix(i+1, s)
		if err != nil {
			return nil, err
		}
		b.AddPrefix(p)
	}
	return b.IPSet()
}

func buildPrefixes(prefixes []netip.Prefix) (*netipx.IPSet, error) {
	var b netipx.IPSetBuilder
	for i, p := range prefixes {
		q, err := checkPrefix(i+1, p)
		if err != nil {
			return nil, err
		}
		b.AddPrefix(q)
	}
	return b.IPSet()
}

// parsePrefix parses trusted-proxy entry number n: a prefix or a single
// address.
func parsePrefix(n int, s string) (netip.Prefix, error) {
	var p netip.Prefix
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return netip.Prefix{}, errPrefix(n, "a zone is not allowed")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	} else {
		p, err = netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("clientip: trusted proxy %d: %d bytes that are not an address or CIDR prefix", n, len(s))
		}
	}
	return checkPrefix(n, p)
}

// checkPrefix validates trusted-proxy entry number n and returns it in the
// form lookups use: an IPv4-mapped prefix of /96 or longer becomes the
// IPv4 prefix it maps. Its errors name the entry by position and never
// print it.
func checkPrefix(n int, p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() {
		return netip.Prefix{}, errPrefix(n, "not a valid prefix")
	}
	if p.Addr().Zone() != "" {
		return netip.Prefix{}, errPrefix(n, "a zone is not allowed")
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("clientip: trusted proxy %d: bits set after the prefix length /%d", n, p.Bits())
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if p.Bits() == 0 {
		return netip.Prefix{}, errPrefix(n, "a /0 would trust every address and let any client choose its own")
	}
	return p, nil
}

func errPrefix(n int, why string) error {
	return fmt.Errorf("clientip: trusted proxy %d: %s", n, why)
}
