package ipmask_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/clickanon/clickanon/ipmask"
)

func TestEmbeddedIPv4(t *testing.T) {
	type emb = ipmask.Embedded
	v4 := netip.MustParseAddr
	tests := []struct {
		name string
		in   string
		want []emb
	}{
		{name: "plain ipv4", in: "192.0.2.1"},
		{name: "plain ipv6", in: "2001:db8::1"},
		{name: "mapped", in: "::ffff:192.0.2.1", want: []emb{{ipmask.Mapped, v4("192.0.2.1"), 96}}},
		{name: "compatible", in: "::192.0.2.1", want: []emb{{ipmask.Compatible, v4("192.0.2.1"), 96}}},
		{name: "translated", in: "::ffff:0:192.0.2.1", want: []emb{{ipmask.Translated, v4("192.0.2.1"), 96}}},
		{name: "6to4", in: "2002:c000:2ff::1", want: []emb{{ipmask.SixToFour, v4("192.0.2.255"), 16}}},
		{name: "teredo", in: "2001:0:4136:e378:8000:63bf:3fff:fdd2", want: []emb{{ipmask.Teredo, v4("192.0.2.45"), 96}}},
		{name: "nat64 well-known", in: "64:ff9b::192.0.2.33", want: []emb{{ipmask.NAT64, v4("192.0.2.33"), 96}}},
		{name: "nat64 local-use", in: "64:ff9b:1:c000:2:2100::", want: []emb{{ipmask.NAT64, netip.Addr{}, 48}}},
		{name: "isatap", in: "fe80::5efe:192.0.2.1", want: []emb{{ipmask.ISATAP, v4("192.0.2.1"), 96}}},
		{name: "isatap over 6to4", in: "2002:c000:201::200:5efe:c000:202", want: []emb{
			{ipmask.SixToFour, v4("192.0.2.1"), 16}, {ipmask.ISATAP, v4("192.0.2.2"), 96}}},
		{name: "zero", in: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a netip.Addr
			if tt.in != "" {
				a = netip.MustParseAddr(tt.in)
			}
			e, n := ipmask.EmbeddedIPv4(a)
			assert.Equal(t, len(tt.want), n)
			assert.Equal(t, tt.want, slices.Collect(slices.Values(e[:n])))
		})
	}
	assert.Equal(t, "6to4", ipmask.SixToFour.String())
	assert.Equal(t, "Form(99)", ipmask.Form(99).String())
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		_, _ = ipmask.EmbeddedIPv4(netip.MustParseAddr("2002:c000:201::200:5efe:c000:202"))
	}))
}
