package ipmasktest

import "net/netip"

// A Case is one address written the way a log, header or response might
// write it. Text is the text, and Addr the address it holds (the first one,
// for a list), which no policy keeping fewer bits than the address has
// leaves unmasked.
//
// Case is a small comparable value; the zero Case has no name and no text.
type Case struct {
	Name string
	Text string
	Addr netip.Addr
}

// Cases returns the tricky forms, all built on the documentation ranges
// 203.0.113.0/24 and 2001:db8::/32 (or the transition prefix carrying
// 203.0.113.9), none of them private, so a test fails if any reaches its
// output unmasked. Each call returns a new slice.
func Cases() []Case {
	c := func(name, text, addr string) Case {
		return Case{Name: name, Text: text, Addr: netip.MustParseAddr(addr)}
	}
	return []Case{
		c("ipv4", "203.0.113.9", "203.0.113.9"),
		c("ipv4 with port", "203.0.113.9:8080", "203.0.113.9"),
		c("ipv4 leading zeros", "203.000.113.009", "203.0.113.9"),
		c("ipv4 in url", "http://203.0.113.9:8080/c/x", "203.0.113.9"),
		c("ipv6", "2001:db8:1:2::7", "2001:db8:1:2::7"),
		c("ipv6 full upper case", "2001:0DB8:0001:0002:0000:0000:0000:0007", "2001:db8:1:2::7"),
		c("ipv6 bracketed with port", "[2001:db8:1:2::7]:443", "2001:db8:1:2::7"),
		c("ipv6 zoned", "2001:db8:1:2::7%eth0", "2001:db8:1:2::7"),
		c("ipv4-mapped", "::ffff:203.0.113.9", "::ffff:203.0.113.9"),
		c("ipv4-mapped hex", "::ffff:cb00:7109", "::ffff:203.0.113.9"),
		c("ipv4-compatible", "::203.0.113.9", "::203.0.113.9"),
		c("siit", "::ffff:0:203.0.113.9", "::ffff:0:203.0.113.9"),
		c("6to4", "2002:cb00:7109::1", "2002:cb00:7109::1"),
		c("teredo", "2001:0:4136:e378:8000:63bf:34ff:8ef6", "2001:0:4136:e378:8000:63bf:34ff:8ef6"),
		c("nat64", "64:ff9b::203.0.113.9", "64:ff9b::203.0.113.9"),
		c("nat64 local use", "64:ff9b:1:cb00:7109::1", "64:ff9b:1:cb00:7109::1"),
		c("isatap", "2001:db8:1:2:0:5efe:203.0.113.9", "2001:db8:1:2:0:5efe:203.0.113.9"),
		c("forwarded-for list", "203.0.113.9, 2001:db8:1:2::7", "203.0.113.9"),
		c("json", `{"ip":"203.0.113.9"}`, "203.0.113.9"),
		c("ipv6 percent-encoded in a query", "/r?ip=2001%3Adb8%3A1%3A2%3A%3A7", "2001:db8:1:2::7"),
		c("ipv6 in encoded brackets", "/r?u=http://%5B2001:db8:1:2::7%5D:80/", "2001:db8:1:2::7"),
		c("ipv4 after an encoded space", "/r?ip=%20203.0.113.9", "203.0.113.9"),
		c("tcpdump address.port", "IP 203.0.113.9.43436 > 203.0.113.10.22: Flags [S]", "203.0.113.9"),
		c("ipv6 after a key", "src:2001:db8:1:2::7", "2001:db8:1:2::7"),
		c("ipv6 glued to a word", "2001:db8:1:2::7xyz", "2001:db8:1:2::7"),
		c("ipv6 socket address as java writes it", "/2001:db8:1:2:0:0:0:7:8080", "2001:db8:1:2::7"),
		c("ipv4-mapped after a dot", "closed.::ffff:cb00:7109", "::ffff:203.0.113.9"),
		c("6to4 after an escape introducer", "#2002:cb00:7109::1", "2002:cb00:7109::1"),
		c("ipv4 in a hyphenated host name with a port", "203-0-113-9.example.net:443", "203.0.113.9"),
		c("ipv6 with dashes in a host name", "2001-db8-1-2--7.sslip.io", "2001:db8:1:2::7"),
	}
}
