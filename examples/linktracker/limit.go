package main

import (
	"net/netip"
	"sync"
	"time"

	"github.com/clickanon/clickanon/ipmask"
)

// limitNetwork is the network whose bucket addr's requests draw on: its
// masked network or, for an IPv6 address that carries the client's IPv4
// address (6to4, Teredo, NAT64, SIIT, IPv4-compatible), the network the
// policy masks that IPv4 address to, as package track's flood quota
// counts it. One host reachable both ways then has one quota, not two, and
// every NAT64 client does not share 64:ff9b::/48's. An ISATAP interface
// identifier's IPv4 address is the host's own, often private: its network
// is the IPv6 one.
func limitNetwork(p ipmask.Policy, addr netip.Addr) netip.Prefix {
	if addr.Is6() && !addr.Is4In6() {
		if e, n := ipmask.EmbeddedIPv4(addr); n > 0 && e[0].Form != ipmask.ISATAP && e[0].IPv4.IsValid() {
			return p.Prefix(e[0].IPv4)
		}
	}
	return p.Prefix(addr)
}

// netLimiter is a token bucket per masked network: each network may make
// burst requests at once and then one every interval. It remembers at most
// maxNets networks; when full it forgets those whose bucket has refilled,
// and refuses newcomers if none has (a flood of networks must not grow
// memory without bound).
//
// The zero netLimiter is not usable; a nil *netLimiter allows everything.
// Its methods are safe for concurrent use.
type netLimiter struct {
	interval time.Duration
	burst    float64
	maxNets  int

	mu   sync.Mutex
	nets map[netip.Prefix]tokens
}

type tokens struct {
	n    float64
	last time.Time
}

// newNetLimiter allows perMinute requests a minute to each network, in
// bursts of up to perMinute. perMinute 0 means no limit (a nil limiter).
func newNetLimiter(perMinute int) *netLimiter {
	if perMinute <= 0 {
		return nil
	}
	return &netLimiter{
		interval: time.Minute / time.Duration(perMinute),
		burst:    float64(perMinute),
		maxNets:  100_000,
		nets:     make(map[netip.Prefix]tokens),
	}
}

// Allow takes a token from network's bucket at now, reporting whether
// there was one.
func (l *netLimiter) Allow(network netip.Prefix, now time.Time) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.nets[network]
	if !ok {
		if len(l.nets) >= l.maxNets && !l.prune(now) {
			return false
		}
		t = tokens{n: l.burst, last: now}
	}
	t = l.refill(t, now)
	if t.n < 1 {
		l.nets[network] = t
		return false
	}
	t.n--
	l.nets[network] = t
	return true
}

func (l *netLimiter) refill(t tokens, now time.Time) tokens {
	if d := now.Sub(t.last); d > 0 { // a clock step back refills nothing
		t.n = min(l.burst, t.n+float64(d)/float64(l.interval))
		t.last = now
	}
	return t
}

// prune forgets the networks whose bucket is full again, reporting
// whether it freed any room.
func (l *netLimiter) prune(now time.Time) bool {
	before := len(l.nets)
	for k, t := range l.nets {
		if l.refill(t, now).n >= l.burst {
			delete(l.nets, k)
		}
	}
	return len(l.nets) < before
}
