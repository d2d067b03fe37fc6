package aggregate

import (
	"fmt"
	"net/netip"

	"github.com/clickanon/clickanon/ipmask"
)

// NetworkPolicy returns the policy a backend configured with p keeps
// networks by (see [NetworkOf]): ipmask.Default for the zero Policy, p
// itself if it keeps no more bits than ipmask.Default for either family
// (ipmask.Strict, say), or an error. Statistics outlive the click buffer
// and are published, so they never keep a network finer than a /24 or a
// /48, whatever policy built the clicks; to keep no network at all, turn
// the Network dimension off.
func NetworkPolicy(p ipmask.Policy) (ipmask.Policy, error) {
	switch {
	case p == ipmask.Policy{}:
		return ipmask.Default, nil
	case p.IPv4Bits() > ipmask.Default.IPv4Bits() || p.IPv6Bits() > ipmask.Default.IPv6Bits():
		return ipmask.Policy{}, fmt.Errorf("aggregate: network policy %s keeps more bits than ipmask.Default (%s)", p, ipmask.Default)
	}
	return p, nil
}

// NetworkOf returns the network that a click from network n is counted
// under in the Network dimension, for a backend that keeps networks by
// policy p: n itself when p would keep no more of its address, else the
// coarser network p keeps (198.51.100.0/24 for 198.51.100.7/32 under
// ipmask.Default; 2002:c633:6400::/40 for the 6to4 network
// 2002:c633:6407::/48, whose 48 bits hold a whole IPv4 address). An
// IPv4-mapped network of at least 96 bits is counted as the IPv4 network
// it maps. Every [Backend] counts with it, so that backends agree and
// none stores a network finer than its policy, however the Click was
// built. It does not allocate.
func NetworkOf(n netip.Prefix, p ipmask.Policy) netip.Prefix {
	a, bits := n.Addr(), n.Bits()
	if a.Is4In6() && bits >= 96 {
		a, bits = a.Unmap(), bits-96
	}
	if k := p.Prefix(a); k.Addr().BitLen() == a.BitLen() && k.Bits() < bits {
		return k
	}
	return netip.PrefixFrom(a, bits)
}
