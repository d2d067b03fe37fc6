package ipmask_test

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/clickanon/clickanon/ipmask"
)

// mixedAddrs returns n seeded addresses: plain IPv4 and IPv6 most of the
// time, and every embedded form now and then, as real traffic has.
func mixedAddrs(n int) []netip.Addr {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]netip.Addr, n)
	for i := range out {
		var b [16]byte
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		switch k := r.IntN(20); {
		case k < 12:
			out[i] = netip.AddrFrom4([4]byte(b[:4]))
		case k < 17:
			b[0] = 0x20 | b[0]&0x0f
			out[i] = netip.AddrFrom16(b)
		case k == 17:
			out[i] = netip.AddrFrom16(netip.AddrFrom4([4]byte(b[:4])).As16()) // mapped
		case k == 18:
			b[0], b[1] = 0x20, 0x02 // 6to4
			out[i] = netip.AddrFrom16(b)
		default:
			b[0], b[1], b[2], b[3] = 0x20, 0x01, 0, 0 // Teredo
			out[i] = netip.AddrFrom16(b)
		}
	}
	return out
}

// reportCPU adds cpu-ns/op: the CPU time the process used per iteration
// since start. On a shared, loaded machine wall time (ns/op) also counts
// the time other processes held the CPU; CPU time does not, so its ratios
// are the steadier figure.
func reportCPU(b *testing.B, start time.Duration) {
	if d := processCPU() - start; d > 0 && b.N > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

var (
	sinkAddr   netip.Addr
	sinkPrefix netip.Prefix
	sinkString string
	sinkBytes  []byte
)

// BenchmarkMask compares Policy.Mask with the bare netip call a masker
// without the embedded-IPv4 rule would make, on the same addresses.
func BenchmarkMask(b *testing.B) {
	addrs := mixedAddrs(1024)
	p := ipmask.Default
	b.Run("baseline=netip.Addr.Prefix", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b, processCPU())
		i := 0
		for b.Loop() {
			a := addrs[i&1023]
			n := 48
			if a.Is4() {
				n = 24
			}
			sinkPrefix, _ = a.Prefix(n)
			i++
		}
	})
	b.Run("ipmask.Policy.Mask", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b, processCPU())
		i := 0
		for b.Loop() {
			sinkAddr = p.Mask(addrs[i&1023])
			i++
		}
	})
	b.Run("ipmask.Policy.Prefix", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b, processCPU())
		i := 0
		for b.Loop() {
			sinkPrefix = p.Prefix(addrs[i&1023])
			i++
		}
	})
}

// BenchmarkMaskText compares the text forms with what most tools do
// (net.ParseIP, net.IP.Mask and String) and with the same in net/netip
// (ParseAddr, Addr.Prefix and String), on mixed traffic, on its IPv4
// addresses alone and on the rest of it alone (plain IPv6, and mapped,
// 6to4 and Teredo addresses).
func BenchmarkMaskText(b *testing.B) {
	mixed := mixedAddrs(1024)
	var v4, v6 []netip.Addr
	for _, a := range mixedAddrs(4096) {
		if a.Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	for _, set := range []struct {
		name  string
		addrs []netip.Addr
	}{{"mixed", mixed}, {"ipv4", v4[:1024]}, {"ipv6", v6[:1024]}} {
		b.Run(set.name, func(b *testing.B) { benchMaskText(b, set.addrs) })
	}
}

func benchMaskText(b *testing.B, addrs []netip.Addr) {
	texts := make([]string, len(addrs))
	bytes := make([][]byte, len(addrs))
	for i, a := range addrs {
		texts[i] = a.String()
		bytes[i] = []byte(texts[i])
	}
	v4mask, v6mask := net.CIDRMask(24, 32), net.CIDRMask(48, 128)
	b.Run("baseline=net.ParseIP+Mask+String", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b, processCPU())
		i := 0
		for b.Loop() {
			ip := net.ParseIP(texts[i&1023])
			if v4 := ip.To4(); v4 != nil {
				sinkString = v4.Mask(v4mask).String()
			} else {
				sinkString = ip.Mask(v6mask).String()
			}
			i++
		}
	})
	b.Run("baseline=netip.ParseAddr+Prefix+String", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b, processCPU())
		i := 0
		for b.Loop() {
			a, err := netip.ParseAddr(texts[i&1023])
			if err == nil {
				a = a.Unmap()
				n := 48
				if a.Is4() {
					n = 24
				}
				pre, _ := a.Prefix(n)
				sinkString = pre.Addr().String()
			}
			i++
		}
	})
	p := ipmask.Default
	b.Run("ipmask.Policy.MaskString", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b, processCPU())
		i := 0
		for b.Loop() {
			sinkString, _ = p.MaskString(texts[i&1023])
			i++
		}
	})
	b.Run("ipmask.Policy.AppendMask", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b, processCPU())
		buf := make([]byte, 0, 64)
		i := 0
		for b.Loop() {
			buf, _ = p.AppendMask(buf[:0], bytes[i&1023])
			i++
		}
		sinkBytes = buf
	})
}

// BenchmarkMaskStringParallel calls MaskString from every P at once, next
// to the netip way doing the same: the blocks MaskString carves its
// results from are shared, and this shows what the sharing costs when
// every core masks at full speed (cpu-ns/op is then CPU time over all
// cores per operation).
func BenchmarkMaskStringParallel(b *testing.B) {
	addrs := mixedAddrs(1024)
	texts := make([]string, len(addrs))
	for i, a := range addrs {
		texts[i] = a.String()
	}
	b.Run("baseline=netip.ParseAddr+Prefix+String", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b, processCPU())
		b.RunParallel(func(pb *testing.PB) {
			var s string
			for i := 0; pb.Next(); i++ {
				if a, err := netip.ParseAddr(texts[i&1023]); err == nil {
					a = a.Unmap()
					n := 48
					if a.Is4() {
						n = 24
					}
					pre, _ := a.Prefix(n)
					s = pre.Addr().String()
				}
			}
			sinkString = s
		})
	})
	b.Run("ipmask.Policy.MaskString", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b, processCPU())
		b.RunParallel(func(pb *testing.PB) {
			var s string
			for i := 0; pb.Next(); i++ {
				s, _ = ipmask.Default.MaskString(texts[i&1023])
			}
			sinkString = s
		})
	})
}
