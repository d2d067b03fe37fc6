package ipmask

import (
	"fmt"
	"net/netip"
	"strings"
	"unsafe"
)

// ParseAddr parses s as an IP address, strictly: dotted-quad IPv4 without
// leading zeros (192.000.002.001 is an error, since some parsers read it as
// octal), or any RFC 4291 text form of IPv6, optionally with a non-empty
// %zone, which is dropped. An error wraps [ErrInvalidAddr] and quotes s.
//
// ParseAddr does not allocate when s is an address.
func ParseAddr(s string) (netip.Addr, error) {
	a, ok := parse(s)
	if !ok {
		return netip.Addr{}, invalid(s)
	}
	return a, nil
}

// MaskString parses s as [ParseAddr] does and returns the text of its
// masked address, e.g. "192.0.2.0" for "192.0.2.123" under [Default], or
// "2001:db8::" for "2001:db8:0:1::7%eth0". Text that is not an address is an
// error wrapping [ErrInvalidAddr], never passed through.
//
// MaskString allocates only the returned string.
func (p Policy) MaskString(s string) (string, error) {
	a, ok := parse(s)
	if !ok {
		return "", invalid(s)
	}
	return p.Mask(a).String(), nil
}

// AppendMask parses s as [ParseAddr] does, appends the text of its masked
// address to dst and returns the extended buffer. Text that is not an
// address is an error wrapping [ErrInvalidAddr]; dst is then returned
// unchanged.
//
// AppendMask does not allocate when s is an address and dst has room.
func (p Policy) AppendMask(dst, s []byte) ([]byte, error) {
	// parse keeps no reference to its argument once it returns, so a view
	// of s is safe and saves a copy.
	a, ok := parse(unsafe.String(unsafe.SliceData(s), len(s)))
	if !ok {
		return dst, invalid(string(s))
	}
	return p.Mask(a).AppendTo(dst), nil
}

// parse is ParseAddr without the error value. It strips a zone before
// parsing so the zone is never interned, and never retains s.
func parse(s string) (netip.Addr, bool) {
	if i := strings.IndexByte(s, '%'); i >= 0 {
		if i == len(s)-1 || strings.IndexByte(s[:i], ':') < 0 {
			return netip.Addr{}, false // empty zone, or a zone on IPv4
		}
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a, true
}

// invalid returns the error for text that is not an address. It is only on
// the error path, so it may allocate; s must not alias a caller's buffer.
func invalid(s string) error {
	if _, err := netip.ParseAddr(s); err != nil {
		msg := err.Error() // `ParseAddr("…"): reason`: keep the reason
		if i := strings.LastIndex(msg, "): "); i >= 0 {
			msg = msg[i+3:]
		}
		return fmt.Errorf("ipmask: %q: %w: %s", s, ErrInvalidAddr, msg)
	}
	return fmt.Errorf("ipmask: %q: %w", s, ErrInvalidAddr)
}
