package clientip

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/clickanon/clickanon/ipmask"
)

// otherAddr is a net.Addr of a type the net package does not have, as a
// PROXY-protocol listener's or a tunnel's may be.
type otherAddr string

func (otherAddr) Network() string  { return "other" }
func (a otherAddr) String() string { return string(a) }

func TestMaskNetAddr(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   net.Addr
		want string
		typ  any
	}{
		{name: "TCP IPv4, 16-byte form", in: &net.TCPAddr{IP: net.ParseIP("198.51.100.77"), Port: 443}, want: "198.51.100.0:443", typ: &net.TCPAddr{}},
		{name: "TCP IPv6 with a zone", in: &net.TCPAddr{IP: net.ParseIP("fe80::1:2:3:4"), Zone: "eth0", Port: 1}, want: "[fe80::]:1", typ: &net.TCPAddr{}},
		{name: "TCP 6to4 carrying an IPv4 address", in: &net.TCPAddr{IP: net.ParseIP("2002:c633:644d::1"), Port: 1}, want: "[2002:c633:6400::]:1", typ: &net.TCPAddr{}},
		{name: "UDP", in: &net.UDPAddr{IP: net.ParseIP("2001:db8:1:2::9"), Port: 53}, want: "[2001:db8:1::]:53", typ: &net.UDPAddr{}},
		{name: "other type, address and port", in: otherAddr("198.51.100.77:80"), want: "198.51.100.0:80", typ: textAddr{}},
		{name: "other type, address alone", in: otherAddr("2001:db8:1:2::9"), want: "2001:db8:1::", typ: textAddr{}},
		{name: "Unix socket, no address", in: &net.UnixAddr{Name: "@", Net: "unix"}, want: "@", typ: &net.UnixAddr{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := maskNetAddr(tt.in, ipmask.Default)
			assert.Equal(t, tt.want, got.String())
			assert.IsType(t, tt.typ, got)
			assert.Equal(t, tt.in.Network(), got.Network())
		})
	}
	assert.Nil(t, maskNetAddr(nil, ipmask.Default))
}
