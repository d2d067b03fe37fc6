package ipmask_test

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/clickanon/clickanon/ipmask"
)

func ExamplePolicy_Mask() {
	for _, s := range []string{"192.0.2.123", "2001:db8:1:2::7", "::ffff:198.51.100.77"} {
		fmt.Println(ipmask.Default.Mask(netip.MustParseAddr(s)))
	}
	// Output:
	// 192.0.2.0
	// 2001:db8:1::
	// 198.51.100.0
}

func ExampleNew() {
	p, err := ipmask.New(16, 32)
	if err != nil {
		panic(err)
	}
	fmt.Println(p, p.Prefix(netip.MustParseAddr("203.0.113.9")))

	_, err = ipmask.New(33, 48)
	fmt.Println(err)
	// Output:
	// ipv4/16,ipv6/32 203.0.0.0/16
	// ipmask: New(33, 48): IPv4 bits must be from 0 to 32
}

// A 6to4 address carries a whole IPv4 address in bits 16 to 47. A plain /48
// would keep all of 192.0.2.255; the policy keeps 16 + 24 bits.
func ExamplePolicy_Prefix_sixToFour() {
	a := netip.MustParseAddr("2002:c000:02ff::1")
	fmt.Println(ipmask.Default.Mask(a))
	fmt.Println(ipmask.Default.Prefix(a))
	// Output:
	// 2002:c000:200::
	// 2002:c000:200::/40
}

func ExamplePolicy_MaskString() {
	s, err := ipmask.Default.MaskString("fe80::1ff:fe23:4567:890a%eth0")
	fmt.Println(s, err)

	_, err = ipmask.Default.MaskString("192.000.002.001")
	fmt.Println(errors.Is(err, ipmask.ErrInvalidAddr))
	fmt.Println(err)
	// Output:
	// fe80:: <nil>
	// true
	// ipmask: not an IP address: IPv4 field with a leading zero at byte 4 (text of 15 bytes)
}

func ExamplePolicy_AppendMask() {
	buf := []byte("client=")
	buf, err := ipmask.Default.AppendMask(buf, []byte("198.51.100.77"))
	fmt.Println(string(buf), err)
	// Output:
	// client=198.51.100.0 <nil>
}

// EmbeddedIPv4 finds the IPv4 address inside a transition address, e.g.
// for a geo lookup in an enrichment hook.
func ExampleEmbeddedIPv4() {
	for _, s := range []string{"2002:c000:2ff::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:db8::1"} {
		e, n := ipmask.EmbeddedIPv4(netip.MustParseAddr(s))
		for _, x := range e[:n] {
			fmt.Println(s, x.Form, x.IPv4, "at bit", x.Offset)
		}
		if n == 0 {
			fmt.Println(s, "carries no IPv4 address")
		}
	}
	// Output:
	// 2002:c000:2ff::1 6to4 192.0.2.255 at bit 16
	// 2001:0:4136:e378:8000:63bf:3fff:fdd2 teredo 192.0.2.45 at bit 96
	// 2001:db8::1 carries no IPv4 address
}
