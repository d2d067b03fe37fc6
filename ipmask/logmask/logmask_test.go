package logmask

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"testing/iotest"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
)

func mustMasker(t testing.TB, p ipmask.Policy, opts *Options) *Masker {
	t.Helper()
	m, err := NewMasker(p, opts)
	require.NoError(t, err)
	return m
}

// TestMaskFreeText is the contract of free-text mode under ipmask.Default,
// including a row for every ambiguous case the package documentation
// decides.
func TestMaskFreeText(t *testing.T) {
	checkRows(t, mustMasker(t, ipmask.Default, nil), []maskRow{
		{"ipv4", "client 203.0.113.9 done", "client 203.0.113.0 done"},
		{"ipv4 already masked kept", "203.0.113.0", "203.0.113.0"},
		{"ipv4 at start and end", "198.51.100.7", "198.51.100.0"},
		{"ipv4 with port", "203.0.113.9:8080", "203.0.113.0:8080"},
		{"url", "http://203.0.113.9:8080/path?x=1", "http://203.0.113.0:8080/path?x=1"},
		{"url v6", "http://[2001:db8:1:2::7]:8080/", "http://[2001:db8:1::]:8080/"},
		{"ipv6 compressed", "2001:db8:1:2::7", "2001:db8:1::"},
		{"ipv6 full", "2001:0db8:0001:0002:0003:0004:0005:0006", "2001:db8:1::"},
		{"ipv6 upper case", "2001:DB8:1:2::7", "2001:db8:1::"},
		{"ipv6 already masked kept as written", "2001:DB8:1::", "2001:DB8:1::"},
		{"ipv6 bracketed", "[2001:db8:1:2::7]", "[2001:db8:1::]"},
		{"ipv6 bracketed with port", "[2001:db8:1:2::7]:443", "[2001:db8:1::]:443"},
		{"ipv6 zone dropped", "fe80::1%eth0 up", "fe80:: up"},
		{"ipv6 zone with vlan", "fe80::1%eth0.100", "fe80::"},
		{"ipv6 zone then full stop", "from fe80::1%eth0.", "from fe80::."},
		{"ipv6 zone then a colon", "dial tcp fe80::1%eth0: refused (fe80::1%eth0:)", "dial tcp fe80::: refused (fe80:::)"},
		{"ipv6 zone then a port", "fe80::1%eth0:8080", "fe80::%eth0:8080"},
		{"ipv6 empty zone", "fe80::1% x", "fe80::% x"},
		{"ipv6 dotted tail", "64:ff9b::203.0.113.9", "64:ff9b::"},
		{"mapped becomes ipv4", "::ffff:203.0.113.9", "203.0.113.0"},
		{"mapped hex", "::ffff:cb00:7109", "203.0.113.0"},
		{"mapped with port", "::ffff:203.0.113.9:80", "203.0.113.0:80"},
		{"6to4 keeps only /24 of its ipv4", "2002:cb00:7109::1", "2002:cb00:7100::"},
		{"teredo", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:0:4136::"},
		{"ipv4-compatible", "::203.0.113.9", "::"},
		{"unspecified", "::", "::"},
		{"loopback", "::1", "::"},
		{"xff list", `"203.0.113.9, 198.51.100.7,2001:db8:1:2::7"`, `"203.0.113.0, 198.51.100.0,2001:db8:1::"`},
		{"json", `{"ip":"203.0.113.9","v6":"2001:db8:1:2::7"}`, `{"ip":"203.0.113.0","v6":"2001:db8:1::"}`},
		{"key value", "ip=203.0.113.9 src=2001:db8:1:2::7;", "ip=203.0.113.0 src=2001:db8:1::;"},
		{"key colon ipv4", "client:203.0.113.9", "client:203.0.113.0"},
		{"key colon ipv6", "addr:2001:db8:1:2::7", "addr:2001:db8:1::"},
		{"sentence full stop", "from 203.0.113.9.", "from 203.0.113.0."},
		{"ipv6 then a file extension", "/c/2001:db8:1:2::7.gif /c/::ffff:203.0.113.9.png /2001:db8:1:2::7.css", "/c/2001:db8:1::.gif /c/203.0.113.0.png /2001:db8:1::.css"},
		{"ipv6 then a full stop and a word", "from 2001:db8:1:2::7.Done", "from 2001:db8:1::.Done"},
		{"ipv6 after a dot", "ended.::ffff:cb00:7109 peer.::1 x.2001:db8:1:2::7 ...::ffff:cb00:7109.", "ended.203.0.113.0 peer.:: x.2001:db8:1:: ...203.0.113.0."},
		{"ipv6 trailing colon", "from 2001:db8:1:2::7: refused", "from 2001:db8:1::: refused"},
		{"leading zeros read as decimal", "192.000.002.001", "192.0.2.0"},
		{"leading zeros in v6 tail", "::ffff:192.000.002.001", "192.0.2.0"},
		// An unbracketed port of five digits cannot be a group: kept. One
		// of four or fewer is also the last group of the address the text
		// after the first group reads as (key "2001:", then
		// db8:0:0:0:0:0:1:443), as Java 8 and 11 write a socket address:
		// dropped with the masked address.
		{"unbracketed v6 port", "2001:db8:0:0:0:0:0:1:54321", "2001:db8:::54321"},
		{"unbracketed v6 port masked", "2001:db8:1:0:0:0:0:7:54321", "2001:db8:1:::54321"},
		{"unbracketed v6 port, a colon and a message", "2001:db8:a:b:0:0:0:2:54321: refused", "2001:db8:a:::54321: refused"},
		{"unbracketed v6 port and a colon", "/2001:db8::1:2:54321:", "/2001:db8:::54321:"},
		{"v6, a dot and a word of hex letters", "from 2001:db8:1:2::7.Added fe80::1:2:3:4.db", "from 2001:db8:1::.Added fe80::.db"},
		{"two colons before an address", "x ::2001:db8:1:2::7 ::::ffff:cb00:7109 ::Abc::Def", "x ::2001:db8:1:: :: ::Abc::Def"},
		{"lone colon, mapped, a word", "x :::ffff:203.0.113.9.log :::ffff:cb00:7109:y", "x :203.0.113.0.log :203.0.113.0:y"},
		{"unbracketed v6 port that reads as a group", "/2001:db8:a:b:0:0:0:2:8080 2001:db8:1:0:0:0:0:7:443", "/2001:db8:a:: 2001:db8:1::"},
		{"unbracketed v6 port, address already masked", "2001:db8:1:0:0:0:0:0:443", "2001:db8:1:0:0:0:0:0"},
		{"unbracketed v6 port after a key kept", "src:2001:db8:1:2:3:4:5:6:443", "src:2001:db8:1:::443"},
		{"dotted quad glued to letters", "v1.2.3.4 host10.0.0.9", "v1.2.3.0 host10.0.0.0"},
		{"four-part version", "Foo/1.2.3.4 Chrome/120.0.0.0", "Foo/1.2.3.0 Chrome/120.0.0.0"},
		{"two quads on a colon", "1.2.3.4:5.6.7.8", "1.2.3.0:5.6.7.0"},
		{"double dot splits", "1.2.3.4..5", "1.2.3.0..5"},
		// Address and port joined by a dot (tcpdump, dante).
		{"tcpdump ipv4", "IP 192.0.2.1.43436 > 198.51.100.7.22: Flags [S]", "IP 192.0.2.0.43436 > 198.51.100.0.22: Flags [S]"},
		{"tcpdump ipv6", "IP6 2001:db8:1:2::1.443 > 2001:db8:a:b::2.51234: tcp 0", "IP6 2001:db8:1::.443 > 2001:db8:a::.51234: tcp 0"},
		{"tcpdump ipv6 full stop after port", "to 2001:db8:1:2::1.443.", "to 2001:db8:1::.443."},
		{"tcpdump mapped", "::ffff:203.0.113.9.8080 done", "203.0.113.0.8080 done"},
		{"dotted port after a colon", "src:203.0.113.9.443", "src:203.0.113.0.443"},
		{"dotted port, leading zeros", "203.0.113.9.00080", "203.0.113.0.00080"},
		{"dotted port after an escaped space", "ip=%20203.0.113.9.443", "ip=%20203.0.113.0.443"},
		{"five-part number, no marker", "1.2.3.4.5 (10.0.0.1.443)", "1.2.3.0.5 (10.0.0.0.443)"},

		// A key, one colon, an address.
		{"key ending in a hex letter", "src:2001:db8:1:2::1 node:2001:db8:1:2::1 source:2001:db8:1:2::1", "src:2001:db8:1:: node:2001:db8:1:: source:2001:db8:1::"},
		{"key ending in a digit", "en0:2001:db8:1:2::1 eth0:2001:db8:1:2::1", "en0:2001:db8:1:: eth0:2001:db8:1::"},
		{"key that reads as a group", "iface:2001:db8:1:2::1 IPv6:2001:DB8:1:2::1", "iface:2001:db8:1:: IPv6:2001:db8:1::"},
		{"sendmail bracketed", "relay=[IPv6:2001:db8:1:2::1]", "relay=[IPv6:2001:db8:1::]"},
		{"sendmail mapped", "[IPv6:::ffff:198.51.100.7] IPv6:::1", "[IPv6:198.51.100.0] IPv6:::"},
		{"configd", "v6(en0:2607:f8b0:4005:80a::200e)", "v6(en0:2607:f8b0:4005::)"},
		{"key with a zone", "en0:fe80::1%en0 up", "en0:fe80:: up"},
		{"key then ipv6 with port", "peer:[2001:db8:1:2::1]:443 eth0:2001:db8:1:2::1.443", "peer:[2001:db8:1::]:443 eth0:2001:db8:1::.443"},
		{"lone colon", "(:2001:db8:1:2::1) x :2001:db8:1:2::1 en0+:2001:db8:1:2::1", "(:2001:db8:1::) x :2001:db8:1:: en0+:2001:db8:1::"},
		// Nine groups after a lone colon read only as a key and an
		// address, as they do after a space.
		{"lone colon, nine groups", "x :2001:0:4136:e378:8000:9c48:9cbd:d37d:db y", "x :2001:0:4136:: y"},
		// Nine groups: read as an address and a port, the port dropped
		// with it, as it is the last group of the address the key
		// reading sees (2001:db8:1:2:3:4:5:6), a Cisco ASA interface
		// name or a counter before it.
		{"hex key, nine groups", "cafe:2001:db8:1:2:3:4:5:6", "cafe:2001:db8::"},
		{"number key, nine groups", "for 12:2001:db8:1:2:3:4:5:1234/443 to face:2001:db8:a:b:0:0:0:7", "for 12:2001:db8::/443 to face:2001:db8::"},
		{"nine groups run into a word", "Thread:/0:0:0:0:0:0:0:1:2181:Factory 12:2001:db8:1:2:3:4:5:6:x at /2001:db8:a:b:0:0:0:2:8080.", "Thread:/:::Factory 12:2001:db8:::x at /2001:db8:a::."},
		{"hex key, nine groups, escaped", "ip=12%3A2001%3Adb8%3A1%3A2%3A3%3A4%3A5%3A6", "ip=12%3A2001%3Adb8%3A%3A"},
		{"hex key that parses as one address", "cafe:2001:db8:1:2::1", "cafe:2001:db8::"},
		// A hex key and an address that, masked, would read as one
		// longer address: masked whole, key and all.
		{"hex key remasked", "dead:2001:db8:1:2:3:4:5:abc 0000:00:00:1:0:0::01:00A", "dead:2001:db8:: ::"},
		{"key holding a dotted quad", "203.0.113.9:2001:db8:1:2::1 000.0.0.1:0::2", "203.0.113.0:2001:db8:1:: 0.0.0.0:::"},
		{"key then ipv4 with port", "source:203.0.113.9:443 node:203.0.113.9", "source:203.0.113.0:443 node:203.0.113.0"},
		{"eui-64 is ipv6", "00:1a:2b:3c:4d:5e:6f:70", "0:1a:2b::"},

		// Run straight into a word: the longest IPv6 address the token
		// starts with is masked, whatever follows it.
		{"ipv6 glued to letters", "2001:db8:1:2::7xyz fe80::1ghost [2001:db8:1:2::7_x]:80", "2001:db8:1::xyz fe80::ghost [2001:db8:1::_x]:80"},
		{"ipv6 glued after a key", "src:2001:db8:1:2::7xyz id=2001:db8:1:2::7zone", "src:2001:db8:1::xyz id=2001:db8:1::zone"},
		{"ipv6 glued, hex digits run on", "2001:db8:1:2::7abcdz ::deadbeefxyz", "2001:db8:1::z ::xyz"},
		{"ipv6 glued, a long hex run dropped at once", "::deadbeefdeadbeefdeadbeefdeadbeefdeadbeefxyz 2001:db8::1.2.3.4ffffffffz", "::xyz 2001:db8::z"},
		{"ipv6 glued, a colon before the word", "2001:db8:1:2::7:xyz", "2001:db8:1:::xyz"},
		{"mapped glued", "::ffff:203.0.113.9q", "203.0.113.0q"},
		{"ipv6 glued, escaped", "u=2001%3Adb8%3A1%3A2%3A%3A7xyz", "u=2001%3Adb8%3A1%3A%3Axyz"},
		{"ipv6 glued, more after it", "::1X::10::AX0000 1::2::3xyz", "::X::10::AX0000 1::::3xyz"},
		// A masked address that reads otherwise with what it was cut from
		// is masked again until it reads as itself.
		{"hex key before an escaped address", "0%3A%3A:1:0:0:0:0:1", "::"},

		// Percent-encoded, as in a URL's query string.
		{"ipv6 escaped colons", "u=2001%3Adb8%3A1%3A2%3A%3A7&x", "u=2001%3Adb8%3A1%3A%3A&x"},
		{"ipv6 lower-case escapes", "u=2001%3adb8%3a1%3a2%3a%3a7", "u=2001%3adb8%3a1%3a%3a"},
		{"ipv6 escaped already masked kept", "u=2001%3ADB8%3A1%3A%3A", "u=2001%3ADB8%3A1%3A%3A"},
		{"ipv6 escaped brackets and port", "u=%5B2001%3Adb8%3A1%3A2%3A%3A7%5D%3A443", "u=%5B2001%3Adb8%3A1%3A%3A%5D%3A443"},
		{"ipv6 escaped brackets only", "u=http://%5B2001:db8:1:2::7%5D:80/", "u=http://%5B2001:db8:1::%5D:80/"},
		{"ipv6 escaped bracket at end", "u=%5B2001:db8:1:2::7%5D", "u=%5B2001:db8:1::%5D"},
		{"ipv6 after escaped separator", "ip%3D2001%3Adb8%3A1%3A2%3A%3A7", "ip%3D2001%3Adb8%3A1%3A%3A"},
		{"ipv6 mixed escapes written plain", "2001:db8:1:2%3A%3A7", "2001:db8:1::"},
		{"ipv6 escaped zone dropped", "fe80%3A%3A1%25eth0", "fe80%3A%3A"},
		{"mapped escaped", "%3A%3Affff%3A203.0.113.9", "203.0.113.0"},
		{"ipv4 escaped port", "http%3A%2F%2F203.0.113.9%3A8080%2F", "http%3A%2F%2F203.0.113.0%3A8080%2F"},
		{"ipv4 after escaped space", "ip=198.51.100.7%2C%20198.51.100.8", "ip=198.51.100.0%2C%20198.51.100.0"},
		{"ipv4 after escaped space, one-digit octet", "ip=%201.2.3.4", "ip=%201.2.3.0"},
		{"escaped list", "ip=203.0.113.9%2C2001%3Adb8%3A1%3A2%3A%3A7", "ip=203.0.113.0%2C2001%3Adb8%3A1%3A%3A"},
		// The code digits of an escape glued to an address: JSON's \u
		// (Gson writes ' and & so), C's and nginx's \x, rsyslog's #ooo
		// for a control byte (#011 for a tab), C's \ooo.
		{"json \\u escape before an address", `{"msg":"from \u0027203.0.113.9\u0027 a\u0026203.0.113.9"}`, `{"msg":"from \u0027203.0.113.0\u0027 a\u0026203.0.113.0"}`},
		{"json \\u escape ending in a hex letter and a digit", `\u00e9203.0.113.9 \u00E9198.51.100.7`, `\u00e9203.0.113.0 \u00E9198.51.100.0`},
		{"nginx \\x escape", `"\x22203.0.113.9\x22" \x22::ffff:203.0.113.9\x22`, `"\x22203.0.113.0\x22" \x22203.0.113.0\x22`},
		{"rsyslog #ooo escape", "Source Network Address:#011203.0.113.9#015 Client Address:#011::ffff:198.51.100.7", "Source Network Address:#011203.0.113.0#015 Client Address:#011198.51.100.0"},
		{"c octal escape", `addr\011203.0.113.9`, `addr\011203.0.113.0`},
		// Escape digits that, read with the address, make it 6to4 or
		// Teredo: read with it, or the embedded IPv4 would survive.
		{"escape digits that start a 6to4 address", `#2002:cb00:7109::1 \2002:CB00:7109::1 %2002:cb00:7109::1 \x2002:cb00:7109::1:443 #2002:cb00:7109::1%eth0 x`, `#2002:cb00:7100:: \2002:cb00:7100:: %2002:cb00:7100:: \x2002:cb00:7100:: #2002:cb00:7100:: x`},
		{"escape after address is not a zone", "2001:db8:1:2::7%2C203.0.113.9", "2001:db8:1::%2C203.0.113.0"},
		{"decimal zone kept a zone", "fe80::1%12 up", "fe80:: up"},

		// HAProxy's unique IDs (%{+X}o %ci:%cp_%fi:%fp_%Ts_%rt:%pid): the
		// client's and the frontend's IPv4 address in hex, masked there.
		{"haproxy unique id", `{CB007109:D431_C6336407:01BB_665800A0_0004:1A2B} unique_id=cb007109:d431_0a000005:01bb_665800a0_0005:1a2b`,
			`{CB007100:D431_C6336400:01BB_665800A0_0004:1A2B} unique_id=cb007100:d431_0a000000:01bb_665800a0_0005:1a2b`},
		{"haproxy unique id, not eight hex digits and a port", "DEADBEEF:CAFE BADC0FFEE:1234_ 0A000005:1_ 665800A0_0004:1A2B", "DEADBEEF:CAFE BADC0FFEE:1234_ 0A000005:1_ 665800A0_0004:1A2B"},

		// Linux audit's SOCKADDR records: a struct sockaddr in hex after
		// "saddr=", its family little-endian (0200 AF_INET, 0A00
		// AF_INET6), the port, then the address (after the flow label
		// for IPv6); masked there, in the case it was written in.
		{"audit sockaddr ipv4", "type=SOCKADDR msg=audit(1718092800.123:456): saddr=020001BBCB0071090000000000000000",
			"type=SOCKADDR msg=audit(1718092800.123:456): saddr=020001BBCB0071000000000000000000"},
		{"audit sockaddr ipv6, enriched", "type=SOCKADDR msg=audit(1718092800.123:457): saddr=0A0001BB0000000020010DB800010002000000000000000700000000\x1dSADDR={ saddr_fam=inet6 laddr=2001:db8:1:2::7 lport=443 }",
			"type=SOCKADDR msg=audit(1718092800.123:457): saddr=0A0001BB0000000020010DB800010000000000000000000000000000\x1dSADDR={ saddr_fam=inet6 laddr=2001:db8:1:: lport=443 }"},
		{"audit sockaddr ipv4-mapped, lower case, forwarded by audisp", "audispd: node=web1 type=SOCKADDR msg=audit(1718092800.123:458): saddr=0a0000500000000000000000000000000000ffffc633640700000000",
			"audispd: node=web1 type=SOCKADDR msg=audit(1718092800.123:458): saddr=0a0000500000000000000000000000000000ffffc633640000000000"},
		{"audit sockaddr cut short", "type=SOCKADDR msg=audit(1718092800.123:459): saddr=020001BBCB007109", "type=SOCKADDR msg=audit(1718092800.123:459): saddr=020001BBCB007100"},
		{"audit sockaddr that holds no internet address", "msg=audit(1718092800.123:460): saddr=01002F6465762F6C6F6700\nmsg=audit(1718092800.123:461): saddr=100000000000000000000000",
			"msg=audit(1718092800.123:460): saddr=01002F6465762F6C6F6700\nmsg=audit(1718092800.123:461): saddr=100000000000000000000000"},

		// Erlang and Elixir write an address as a tuple of numbers
		// (Cowboy's peer, Plug's remote_ip, inet:ip_address()).
		{"erlang tuples", `peer => {{203,0,113,9},54321}, remote_ip: {198, 51, 100, 7} {8193,3512,1,2,0,0,0,7} {0, 0, 0, 0, 0, 65535, 52224, 29193}`,
			`peer => {{203,0,113,0},54321}, remote_ip: {198, 51, 100, 0} {8193,3512,1,0,0,0,0,0} {0, 0, 0, 0, 0, 65535, 52224, 29184}`},
		{"tuples that are no address", "{1,2,3} {1,2,3,256} {1,2,3,4,5} {1,2,3,4,5,6,7,65536} {a,1,2,3} x {1,2,3,4,5,6,7,8,9} {123456,1,2,3}",
			"{1,2,3} {1,2,3,256} {1,2,3,4,5} {1,2,3,4,5,6,7,65536} {a,1,2,3} x {1,2,3,4,5,6,7,8,9} {123456,1,2,3}"},

		// Reverse DNS names: the address reversed, one label per octet or
		// nibble. A four-label in-addr.arpa name also reads forward as a
		// dotted quad, so it is masked as both.
		{"in-addr.arpa", "query[PTR] 9.113.0.203.in-addr.arpa from 127.0.0.1", "query[PTR] 0.113.0.0.in-addr.arpa from 127.0.0.0"},
		{"in-addr.arpa upper case, in a bind query log", "(9.113.0.203.IN-ADDR.ARPA): query: 9.113.0.203.IN-ADDR.ARPA IN PTR", "(0.113.0.0.IN-ADDR.ARPA): query: 0.113.0.0.IN-ADDR.ARPA IN PTR"},
		{"in-addr.arpa zone of a network kept", "zone 113.0.203.in-addr.arpa. loaded", "zone 113.0.203.in-addr.arpa. loaded"},
		{"ip6.arpa", "query[PTR] 7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa from ::1",
			"query[PTR] 0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa from ::"},
		{"ip6.arpa upper case", "7.0.0.0.0.0.0.0.0.0.0.0.F.E.D.C.2.0.0.0.1.0.0.0.8.B.D.0.1.0.0.2.IP6.ARPA.",
			"0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.B.D.0.1.0.0.2.IP6.ARPA."},
		{"ip6.arpa zone of a /64", "2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"},
		{"ip6.arpa 6to4", "9.0.1.7.0.0.b.c.2.0.0.2.ip6.arpa", "0.0.1.7.0.0.b.c.2.0.0.2.ip6.arpa"},

		// Host names that write an address with hyphens, as ISPs' and
		// clouds' reverse DNS do (postfix, sshd and web servers log them).
		{"postfix client host name", "connect from 203-0-113-9.dyn.example.net[203.0.113.9]", "connect from 203-0-113-0.dyn.example.net[203.0.113.0]"},
		{"aws host names", "ec2-203-0-113-9.compute-1.amazonaws.com ip-10-0-0-5.ec2.internal", "ec2-203-0-113-0.compute-1.amazonaws.com ip-10-0-0-0.ec2.internal"},
		{"isp host names", "c-198-51-100-7.hsd1.ca.comcast.net pool-198-51-100-7.nycmny.fios.verizon.net 198-51-100-7.1e100.net", "c-198-51-100-0.hsd1.ca.comcast.net pool-198-51-100-0.nycmny.fios.verizon.net 198-51-100-0.1e100.net"},
		// ISPs' reverse DNS and nip.io write an IPv4 address in hex.
		{"hex ipv4 host names", "connect from p5dc5a9f2.dip0.t-ipconnect.de[93.197.169.242] ipb21b4c4b.dynamic.kabel-deutschland.de",
			"connect from p5dc5a900.dip0.t-ipconnect.de[93.197.169.0] ipb21b4c00.dynamic.kabel-deutschland.de"},
		{"hex label of decimal digits in a token of three dots", "..10000001.nip.io 1..10000001.nip.io", "..10000000.nip.io 1..10000000.nip.io"},
		// '_' belongs to a label: a prefix that ends in '-' after one is
		// read, a prefix with a '_' at its end is not (see "hex that is
		// no host name's address").
		// A dotted quad in the token before a hex label is found first,
		// and masked as text (its form once panicked, as the label's).
		{"dotted quad before a hex label in its token", "203.0.113.9.0A00A.c0000201.ab.cd", "203.0.113.0.0A00A.c0000200.ab.cd"},
		{"hex label after an underscore and a dash", "_-c0000201.ab.cd a_-c0000201.ab.cd x y_-00000001.A.0", "_-c0000200.ab.cd a_-c0000200.ab.cd x y_-00000000.A.0"},
		{"hex ipv4 in nip.io names", "https://c633644d.nip.io/ app-c633644d.nip.io www.C633644D.nip.io", "https://c6336400.nip.io/ app-c6336400.nip.io www.C6336400.nip.io"},
		// ISPs' reverse DNS names also write an IPv4 address as twelve
		// zero-padded decimal digits (sshd's and PAM's rhost=).
		{"zero-padded decimal ipv4 host names", "rhost=n203000113009.netvigator.example  user=root ip-198051100007.static.example.net 203000113009.dyn.example.org",
			"rhost=n203000113000.netvigator.example  user=root ip-198051100000.static.example.net 203000113000.dyn.example.org"},
		{"zero-padded decimal after hex letters in its label", "AA203000113009.x.example ab203000113009.x.example", "AA203000113000.x.example ab203000113000.x.example"},
		{"twelve digits that are no host name's address", "203000113009.txt 203000113009 n203000113009 n203000113256.example.net abcdef203000113009.example.net 1203000113009.example.net",
			"203000113009.txt 203000113009 n203000113009 n203000113256.example.net abcdef203000113009.example.net 1203000113009.example.net"},
		{"hex that is no host name's address", "deadbeef.txt commit a1b2c3d4. d111111abcdef8.cloudfront.net x.1.c633644d.nip.io _c633644d.nip.io x_c633644d.nip.io abcdefgh12345678.x.y",
			"deadbeef.txt commit a1b2c3d4. d111111abcdef8.cloudfront.net x.1.c633644d.nip.io _c633644d.nip.io x_c633644d.nip.io abcdefgh12345678.x.y"},
		// After a dashed label that ends in its "--", the '.' starts the
		// next token, read as it is alone (.x:::1:2:3 is a key and ::1:2:3).
		{"token after a dashed label's '--.'", "0--.0:::1:2:3X 2001-db8-1-2--.0:::1:2:3Y", "0--.0:::X 2001-db8-1--.0:::Y"},
		{"hyphenated quad after another label", "www.203-0-113-9.sslip.io static.198-51-100-7.clients.example.de", "www.203-0-113-0.sslip.io static.198-51-100-0.clients.example.de"},
		{"hyphenated host name and a port", "http://203-0-113-9.be:8080/ ip-10-0-0-5.1:22", "http://203-0-113-0.be:8080/ ip-10-0-0-0.1:22"},
		{"hyphenated numbers after other address text", "1.2.3.4-5-6-7.example.net ::1-2-3-4.example.net", "1.2.3.0-5-6-7.example.net ::-2-3-4.example.net"},
		// IPv6 with '-' for ':' in a label, as sslip.io and some reverse
		// DNS names write it: masked and written the same way.
		{"dashed ipv6 host names", "2001-db8-85a3--8a2e-370-7334.sslip.io connect from 2001-0db8-0001-0002-0000-0000-0000-0007.ipv6.example.net[2001:db8:1:2::7]",
			"2001-db8-85a3--.sslip.io connect from 2001-db8-1--.ipv6.example.net[2001:db8:1::]"},
		{"dashed ipv6 after a word", "dynamic-2001-db8-1-2-3-4-5-6.isp.example ip6-2001-db8-1--7.example.net host-cafe-2001-db8-1--7.example.net",
			"dynamic-2001-db8-1--.isp.example ip6-2001-db8-1--.example.net host-cafe-2001-db8--.example.net"},
		{"dashed ipv6 after another label", "www.2001-db8-1--7.sslip.io", "www.2001-db8-1--.sslip.io"},
		{"dashed ipv6 loopback and a masked one", "--1.sslip.io 2001-db8-1--.example.net", "--.sslip.io 2001-db8-1--.example.net"},
		{"dashed ipv6 with a group too many", "1-2-3-4-5-6-7-8-9.example.net", "1-2-3--.example.net"},
		{"dashed ipv6 whose last groups read as a hyphenated quad", "2001-db8--1-2-3-4.sslip.io --10-0-0-5.sslip.io", "2001-db8--.sslip.io --.sslip.io"},
		{"dashed ipv6 whose last group starts a dotted quad", "2001-db8--1.2.3.4", "2001-db8--1.2.3.0"},
		{"dashes that are no ipv6 host name", "123e4567-e89b-12d3-a456-426614174000.json a-b-c.example.net dead-beef.example.net 2001-db8--7 x 2001-db8--7.",
			"123e4567-e89b-12d3-a456-426614174000.json a-b-c.example.net dead-beef.example.net 2001-db8--7 x 2001-db8--7."},
		// A host name written without its domain, as syslog writes the
		// sender's (macOS's guest networks, EC2's default host names),
		// ends in the hyphenated quad after a word.
		{"hyphenated quad ending a short host name", "Jul  1 09:00:55 guest-203-0-113-9 kernel[0]: up\nJun 11 08:00:00 ip-198-51-100-7 sshd[42]: ok",
			"Jul  1 09:00:55 guest-203-0-113-0 kernel[0]: up\nJun 11 08:00:00 ip-198-51-100-0 sshd[42]: ok"},
		{"short hyphenated host name before a port, a colon or the end", "ip-10-0-0-5:8080 (c-198-51-100-7) from x-1-2-3-4. ec2-203-0-113-9 run-24-6-11-10", "ip-10-0-0-0:8080 (c-198-51-100-0) from x-1-2-3-0. ec2-203-0-113-0 run-24-6-11-0"},
		{"hyphenated numbers that are no host name", "1-2-3-4-5.example.net 1-2-3-256.example.net build 1-2-3-4 done 1-2-3-4. x-1-2-3-4-5 x-1-2-3-4x --1-2-3-4 x-1-2-3-256 1-2-3-4-5",
			"1-2-3-4-5.example.net 1-2-3-256.example.net build 1-2-3-4 done 1-2-3-4. x-1-2-3-4-5 x-1-2-3-4x --1-2-3-4 x-1-2-3-256 1-2-3-4-5"},

		// Dovecot's session IDs hold the client's address after a
		// timestamp and a port, in base64: masked there too.
		{"dovecot login session", "imap-login: Login: user=<alice>, method=PLAIN, rip=203.0.113.9, lip=192.0.2.1, mpid=1234, TLS, session=<ESIzRFVmOTDLAHEJ>",
			"imap-login: Login: user=<alice>, method=PLAIN, rip=203.0.113.0, lip=192.0.2.0, mpid=1234, TLS, session=<ESIzRFVmOTDLAHEA>"},
		{"dovecot ipv6 session in a mail process prefix", "imap(alice)<4321><ESIzRFVmOTAgAQ24AAEAAgAAAAAAAAAH>: Logged out in=12 out=345",
			"imap(alice)<4321><ESIzRFVmOTAgAQ24AAEAAAAAAAAAAAAA>: Logged out in=12 out=345"},
		{"dovecot mapped session", "session=<ESIzRFVmOTAAAAAAAAAAAAAA///LAHEJ>", "session=<ESIzRFVmOTAAAAAAAAAAAAAA///LAHEA>"},
		{"base64 in brackets elsewhere left alone", "user=<ESIzRFVmOTDLAHEJ> <ESIzRFVmOTDLAHEJ> x<1><ESIzRFVmOTDLAHEJ> session=<ESIzRFVmOTDLAHE>", "user=<ESIzRFVmOTDLAHEJ> <ESIzRFVmOTDLAHEJ> x<1><ESIzRFVmOTDLAHEJ> session=<ESIzRFVmOTDLAHE>"},

		// Left alone.
		{"five-part version after a marker", "v1.2.3.4.5 OpenSSH_9.6.1.2.3 nginx/1.25.3.1.2 pkg-1.2.3.4.5 V10.0.0.1.2", "v1.2.3.4.5 OpenSSH_9.6.1.2.3 nginx/1.25.3.1.2 pkg-1.2.3.4.5 V10.0.0.1.2"},
		{"six-part number", "1.2.3.4.5.6 10.0.0.1.443.1", "1.2.3.4.5.6 10.0.0.1.443.1"},
		{"five parts, fifth not a port", "10.0.0.1.65536 10.0.0.1.123456", "10.0.0.1.65536 10.0.0.1.123456"},
		{"five parts, first four not an address", "256.0.0.1.443 1.2.3.1000.5", "256.0.0.1.443 1.2.3.1000.5"},
		{"three-part version", "v2.0.1 go1.26.8 10.1", "v2.0.1 go1.26.8 10.1"},
		{"octet out of range", "256.1.1.1 1.2.3.1000", "256.1.1.1 1.2.3.1000"},
		{"time", "12:30:28 12:30:28.123", "12:30:28 12:30:28.123"},
		{"log timestamp", "[11/Jun/2024:08:00:00 +0000]", "[11/Jun/2024:08:00:00 +0000]"},
		{"mac", "00:1a:2b:3c:4d:5e 00-1A-2B-3C-4D-5E", "00:1a:2b:3c:4d:5e 00-1A-2B-3C-4D-5E"},
		{"mac with dashes, its last four groups decimal", "Calling-Station-Id=C3-CD-79-09-60-68, 0A-1B-10-20-30-40.", "Calling-Station-Id=C3-CD-79-09-60-68, 0A-1B-10-20-30-40."},
		{"not a mac: a group more or a digit less", "x-C3-CD-79-09-60-68 C3-CD-79-09-60-8", "x-C3-CD-79-09-60-0 C3-CD-79-09-60-0"},
		{"cpp identifier", "std::abs Foo::Bar std::io::Error", "std::abs Foo::Bar std::io::Error"},
		{"rust and cpp paths", "Vec::new std::deque Node::add ns::a::b", "Vec::new std::deque Node::add ns::a::b"},
		{"ipv6 run into a word on its left", "remote2001:db8:85a3:8d3:1319:8a2e:370:7348 client2a00:1450:4001:82b::200e xyzfe80::abcd:1234:5678:9abc",
			"remote2001:db8:85a3:: client2a00:1450:4001:: xyzfe80::"},
		{"ipv6 run into hex digits on its left", "abc2001:db8:1:2:3:4:5:6 deadbeef2001:db8:aaaa:bbbb::1", "abc2001:db8:1:: deadbeef2001:db8:aaaa::"},
		{"ipv6 run into a word, not a key", "x2001:db8:aaaa:bbbb::1 ip2001:db8:85a3:1::7", "x2001:db8:aaaa:: ip2001:db8:85a3::"},
		{"ipv6 run into hex digits after a key", "src:abc2001:db8:1:2::7 eth0:deadbeef2001:db8:aaaa:bbbb::1", "src:abc2001:db8:1:: eth0:deadbeef2001:db8:aaaa::"},
		{"ipv6 run into hex digits after a dotted quad", "203.0.113.9:abc2001:db8:1:2::7", "203.0.113.0:abc2001:db8:1::"},
		{"four hex letters run into a word are a key", "surface:2001:db8:1:2::7 deadface:2001:db8:1:2::7", "surface:2001:db8:1:: deadface:2001:db8:1::"},
		{"short first group run into a word", "xyab:1:2:3:4:5:6:7 xyab::1:2", "xyab:1:2:: xyab::"},
		// Two groups around a "::" run into a word are an identifier's
		// unless a decimal digit follows the "::": type names ending in
		// digits, then a method (Rust's sha2, x25519-dalek, ed25519-dalek).
		{"hash and curve types with a method", "Sha256::digest(b) Sha512::default X25519::add Ed25519::default 0x7fffdeadbeef::fmt",
			"Sha256::digest(b) Sha512::default X25519::add Ed25519::default 0x7fffdeadbeef::fmt"},
		{"two groups run into a word, a digit after the \"::\"", "clientfe80::1 remote2001::7 abc2001::1", "clientfe80:: remote2001:: abc2001::"},
		// What the package documentation says these rules leave: read as a
		// key and an address, one group more than the policy survives.
		{"run into a word, left as a key and an address", "x64:ff9b:1:abcd::1 hostfdab:cdef:1:2::1 abcfdab:cdef:1:2::1 clientfe80::abcd",
			"x64:ff9b:1:abcd:: hostfdab:cdef:1:2:: abcfdab:cdef:1:2:: clientfe80::abcd"},
		{"escaped groups too long", "00000%3A%3A%3A10000%0", "00000%3A%3A%3A10000%0"},
		{"bare a::b is an address", "a::b", "a::"},
		{"hash with colon", "sha256:abcdef0123456789", "sha256:abcdef0123456789"},
		{"hex hash", "deadbeefcafe 0x1f", "deadbeefcafe 0x1f"},
		{"uuid", "123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456-426614174000"},
		{"date", "2024-06-11 2024.06.11", "2024-06-11 2024.06.11"},
		{"too many groups", "1:2:3:4:5:6:7:8:9:a", "1:2:3:4:5:6:7:8:9:a"},
		{"two ellipses", "1::2::3", "1::2::3"},
		{"ipv4 zone is not a zone", "203.0.113.9%eth0", "203.0.113.0%eth0"},
		{"double-encoded colon", "2001%253Adb8%253A1%253A2%253A%253A1 [2001%253adb8%253a1%253a2%253a%253a1]", "2001%253Adb8%253A1%253A%253A [2001%253adb8%253a1%253a%253a]"},
		{"double-encoded colons mixed with single", "2001%253Adb8%3A1%3A2%3A%3A1", "2001:db8:1::"},
		{"double-encoded space before a dotted quad", "?u=%2520203.0.113.9%2522198.51.100.7%2522", "?u=%2520203.0.113.0%2522198.51.100.0%2522"},
		{"other double encoding", "%25253A %2525 %252F203.0.113.9", "%25253A %2525 %252F203.0.113.0"},
		{"separators encoded twice end an address, not start a zone", "2001%253Adb8%253A1%253A2%253A%253A7%252C203.0.113.9 2001:db8:1:2::7%255D:443",
			"2001%253Adb8%253A1%253A%253A%252C203.0.113.0 2001:db8:1::%255D:443"},
		{"a bracket encoded twice before an address", "%255B%253A%253Affff%253A203.0.113.9%255D %255B2001:db8:1:2::7%255D:443",
			"%255b%253A%253A%255D %255B2001:db8:1::%255D:443"}, // read also as 5b::ffff:203.0.113.9, masked so
		{"escaped colons in a time", "12%3A30%3A28", "12%3A30%3A28"},
		{"empty", "", ""},
		{"no address", "GET /index.html HTTP/1.1", "GET /index.html HTTP/1.1"},
	})
}

// TestScanFindsEveryStart puts each kind of reading at every offset from
// a line's start and end: the scanner looks for where one may start four
// bytes a round, then byte by byte near the end (see skip), and none may
// be passed over, nor one that follows a '-' before no digit.
func TestScanFindsEveryStart(t *testing.T) {
	m := mustMasker(t, ipmask.Default, nil)
	for _, tt := range []maskRow{
		{"dotted quad", "203.0.113.9", "203.0.113.0"},
		{"ipv6", "2001:db8:1:2::7", "2001:db8:1::"},
		{"erlang tuple", "{203,0,113,9}", "{203,0,113,0}"},
		{"dovecot session", "session=<ESIzRFVmOTDLAHEJ>", "session=<ESIzRFVmOTDLAHEA>"},
		{"short host name", "ip-198-51-100-7", "ip-198-51-100-0"},
		{"tuple after a dash", "pid-{203,0,113,9}", "pid-{203,0,113,0}"},
		{"short host name after dashes", "a-b--ip-10-0-0-5", "a-b--ip-10-0-0-0"},
		{"ipv6 after a dash", "x-::1:2:3:4:5", "x-::"},
	} {
		for k := range 9 {
			pad := strings.Repeat("z", k)
			for _, in := range []string{pad + " " + tt.in, tt.in + " " + pad, pad + "-" + " " + tt.in + " -" + pad} {
				want := strings.Replace(in, tt.in, tt.want, 1)
				assert.Equal(t, want, m.MaskString(in), "%s: %q", tt.name, in)
			}
		}
	}
}

// TestQuadTokenReadAtOnce checks next's shortcut for a token that is a
// dotted quad alone against quad, which reads every other token holding
// three dots: after every byte that ends the token on its left, before
// text that makes it a host name's labels or not, the two read the same
// address, span and form, or both read none.
func TestQuadTokenReadAtOnce(t *testing.T) {
	tokens := []string{"203.0.113.9", "1.2.3.4", "192.000.002.001", "255.255.255.255", "256.1.2.3",
		"1.2.3.4567", "0111.2.3.4", "1.2.3.4.", "011.2.3.4"}
	for _, tok := range tokens {
		for c := range 256 {
			if class[c]&cT != 0 || class[c]&cRare != 0 {
				continue // part of the token, or the start of another reading
			}
			for _, after := range []string{" x.y", ".example.net", "-x.example.net", ""} {
				text := append([]byte{byte(c)}, tok+after...)
				sc := newScanner(text)
				got, gotOK := sc.next()
				q := newScanner(text)
				q.i, q.quadEnd = 1, 1+len(tok)
				want, wantOK := q.quad(q.quadEnd)
				require.Equal(t, wantOK, gotOK, "%q", text)
				assert.Equal(t, want, got, "%q", text)
				assert.Equal(t, q.form, sc.form, "%q", text)
			}
		}
	}
}

// maskRow is a row of a free-text table: in masks to want.
type maskRow struct{ name, in, want string }

// checkRows checks that each row's input masks to its output, that masking
// that again changes nothing, and that the output keeps the documented
// length bound.
func checkRows(t *testing.T, m *Masker, rows []maskRow) {
	t.Helper()
	for _, tt := range rows {
		t.Run(tt.name, func(t *testing.T) {
			got := m.MaskString(tt.in)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.want, m.MaskString(got), "idempotent")
			assert.LessOrEqual(t, len(got), lengthBound(tt.in), "output length")
			// The independent check agrees: nothing left in the output,
			// and something to mask in an input that changed.
			assert.Empty(t, plainLeaks(decodeColons(got), m.policy, m.skipPrivate), "plain check on the output")
			if tt.want != tt.in {
				assert.NotEmpty(t, plainLeaks(decodeColons(tt.in), m.policy, m.skipPrivate), "plain check on the input")
			}
		})
	}
}

// TestMaskFinePolicy covers policies keeping more than 96 IPv6 bits, where
// the last 32 bits survive in part: a dotted tail stays dotted, so masked
// text keeps the length bound escaped or not (two hexadecimal groups would
// add a "%3A").
func TestMaskFinePolicy(t *testing.T) {
	p, err := ipmask.New(24, 120)
	require.NoError(t, err)
	checkRows(t, mustMasker(t, p, nil), []maskRow{
		{"dotted tail", "::1:1.0.1.1", "::1:1.0.1.0"},
		{"nat64", "64:ff9b::192.0.2.33", "64:ff9b::192.0.2.0"},
		{"first of two zero runs", "1:0:0:2:0:0:10.1.2.3", "1::2:0:0:10.1.2.0"},
		{"tail masked to zero", "1:2:3:4:5:6:0.0.0.9", "1:2:3:4:5:6::"},
		{"zone dropped", "fe80::1.2.3.4%eth0", "fe80::1.2.3.0"},
		{"escaped", "%3A%3A1%3A1.0.1.1", "%3A%3A1%3A1.0.1.0"},
		{"then a port", "::1:1.0.1.1:80", "::1:1.0.1.0:80"},
		{"hexadecimal stays hexadecimal", "::1:100:101", "::1:100:100"},
		{"a dot in a zone is not a dotted tail", "::1:100:101%eth0.5 x", "::1:100:100 x"},
		{"one zero group kept as \"::\"", "1::2:3:4:5:6:7", "1::2:3:4:5:6:0"},
		{"zero run moved by masking, dotted tail", "0:0:1::1:0.0.1.1", "0:0:1::1:0.0.1.0"},
		{"zero run moved by masking", "0:0:1::1:0:1 %3A%3A1%3A0%3A0%3A1%3A0%3A1", "0:0:1::1:0:0 %3A%3A1%3A0%3A0%3A1%3A0%3A0"},
	})
	// Teredo's client IPv4 (its last 32 bits, inverted) keeps 16 bits
	// here, fewer than the 120 of other IPv6.
	checkRows(t, mustMasker(t, mustPolicy(t, 16, 120), nil), []maskRow{
		{"teredo", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:0:4136:e378:8000:63bf:3fff:0"},
		{"escape digits that start a teredo address", "#2001:0:4136:e378:8000:63bf:3fff:fdd2", "#2001:0:4136:e378:8000:63bf:3fff:0"},
	})
}

// TestMaskKeyReadingFinePolicy covers policies that keep more IPv6 bits
// than 32 past the IPv4 bits: read after a key of one group, an address
// that embeds an IPv4 address (6to4 at bit 16, NAT64 and Teredo at 96)
// keeps fewer bits than the whole text read as one address shows of it.
func TestMaskKeyReadingFinePolicy(t *testing.T) {
	checkRows(t, mustMasker(t, mustPolicy(t, 24, 64), nil), []maskRow{
		{"hex key before 6to4", "cafe:2002:cb00:7109::1", "cafe:2002:cb00:7100::"},
		{"number key before 6to4", "for 1:2002:CB00:7109:1:: to", "for 1:2002:cb00:7100:: to"},
		{"key reading already masked", "cafe:2001:db8:1::", "cafe:2001:db8:1::"},
	})
	checkRows(t, mustMasker(t, mustPolicy(t, 24, 128), nil), []maskRow{
		{"whole reading kept, 6to4", "x 1:2002:cb00:7109::1 y", "x 1:2002:cb00:7100:: y"},
		{"whole reading kept, nat64", "x 12:64:ff9b::cb00:7109", "x 12:64:ff9b::cb00:7100"},
	})
}

// TestMaskCoarsePolicy covers a policy keeping fewer IPv6 bits than an
// address's text holds before its "::", which an identifier's reading
// must not leave: two groups run into a word with nothing after the
// "::" are an address.
func TestMaskCoarsePolicy(t *testing.T) {
	p, err := ipmask.New(24, 16)
	require.NoError(t, err)
	checkRows(t, mustMasker(t, p, nil), []maskRow{
		{"two groups run into a word, nothing after the \"::\"", "x2001:db8:: abc2001:db8::, src:abc2001:db8::", "x2001:: abc2001::, src:abc2001::"},
		{"two groups run into a word, a method after the \"::\"", "Sha256::digest x2001::abcd", "Sha256::digest x2001::abcd"},
		{"ip6.arpa zone of a /48", "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "0.0.0.0.0.0.0.0.1.0.0.2.ip6.arpa."},
	})
}

// TestMaskReverseNames covers reverse DNS names under policies keeping
// fewer bits than a name's labels give, and with SkipPrivate.
func TestMaskReverseNames(t *testing.T) {
	checkRows(t, mustMasker(t, mustPolicy(t, 16, 48), nil), []maskRow{
		{"in-addr.arpa zone of a /24", "113.0.203.in-addr.arpa", "0.0.203.in-addr.arpa"},
		{"in-addr.arpa zone of a /16 kept", "0.203.in-addr.arpa", "0.203.in-addr.arpa"},
		{"both readings of four labels", "9.113.0.203.in-addr.arpa", "0.0.0.0.in-addr.arpa"},
	})
	checkRows(t, mustMasker(t, mustPolicy(t, 20, 50), nil), []maskRow{
		{"part of an octet", "9.113.0.203.in-addr.arpa", "0.112.0.0.in-addr.arpa"},
		{"part of a nibble", "7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.f.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
			"0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"},
	})
	checkRows(t, mustMasker(t, ipmask.Default, &Options{SkipPrivate: true}), []maskRow{
		{"private both ways kept", "10.2.1.10.in-addr.arpa 192.168.168.192.in-addr.arpa", "10.2.1.10.in-addr.arpa 192.168.168.192.in-addr.arpa"},
		// Either reading public: both masked, as masking one changes the
		// other.
		{"private reversed, public forward", "9.113.0.10.in-addr.arpa 1.0.168.192.in-addr.arpa", "0.113.0.0.in-addr.arpa 0.0.168.0.in-addr.arpa"},
		{"link-local nibbles kept", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa"},
		{"public nibbles masked", "9.0.1.7.0.0.b.c.2.0.0.2.ip6.arpa", "0.0.1.7.0.0.b.c.2.0.0.2.ip6.arpa"},
	})
	// Not the reverse tree: a longer label after it, or too many labels
	// (read as a dotted quad, as anywhere else: four labels before more
	// of a host name are masked as both readings would be).
	checkRows(t, mustMasker(t, ipmask.Default, nil), []maskRow{
		{"a longer label", "9.113.0.203.in-addr.arpanet", "0.113.0.0.in-addr.arpanet"},
		// Reverse DNS names of ISPs and hosters write the address in either
		// order; before more of the name, a quad keeps only what both
		// readings keep.
		{"reversed quad before a domain", "9.113.0.203.static.example.net", "0.113.0.0.static.example.net"},
		{"reversed quad inside a name", "static.9.113.0.203.clients.example.de", "static.0.113.0.0.clients.example.de"},
		{"forward quad before a domain", "203.0.113.9.nip.io", "0.0.113.0.nip.io"},
		{"postfix connect from a reversed name", "connect from 9.113.0.203.dyn.example.net[203.0.113.9]", "connect from 0.113.0.0.dyn.example.net[203.0.113.0]"},
		{"a file extension is not a name", "/c/203.0.113.9.png 203.0.113.9.Done", "/c/203.0.113.0.png 203.0.113.0.Done"},
		{"five labels", "1.9.113.0.203.in-addr.arpa", "1.9.113.0.203.in-addr.arpa"},
		{"a label that is not a nibble", "7.10.ip6.arpa 7..0.ip6.arpa", "7.10.ip6.arpa 7..0.ip6.arpa"},
	})
}

// TestMaskSettleLong covers a stretch too long to mask again on the
// stack: with no space or punctuation in it, it is settled in dst.
func TestMaskSettleLong(t *testing.T) {
	pad := "u=" + strings.Repeat("x-", stackSettle/2+10)
	checkRows(t, mustMasker(t, ipmask.Default, nil), []maskRow{
		{"glued, digits run on", pad + "2001:db8:1:2::7abcdz", pad + "2001:db8:1::z"},
		{"escaped, hex key", pad + "-0%3A%3A:1:0:0:0:0:1", pad + "-::"},
	})
}

// TestMaskEscapedLong covers text too long to decode on the stack.
func TestMaskEscapedLong(t *testing.T) {
	m := mustMasker(t, ipmask.Default, nil)
	in := strings.Repeat("u=2001%3Adb8%3A1%3A2%3A%3A7 v=%5B203.0.113.9%5D\n", 100)
	want := strings.Repeat("u=2001%3Adb8%3A1%3A%3A v=%5B203.0.113.0%5D\n", 100)
	require.Greater(t, len(in), stackDecode)
	for range 3 { // the pooled buffer is reused
		assert.Equal(t, want, m.MaskString(in))
	}
}

func TestAddrs(t *testing.T) {
	text := []byte(`a 203.0.113.9:80 [fe80::1%eth0]:443 "::ffff:198.51.100.7" v1.2.3.4.5`)
	var got []Match
	for m := range Addrs(text) {
		got = append(got, m)
	}
	require.Len(t, got, 3)
	assert.Equal(t, Match{netip.MustParseAddr("203.0.113.9"), 2, 13}, got[0])
	assert.Equal(t, "fe80::1%eth0", string(text[got[1].Start:got[1].End]))
	assert.Equal(t, netip.MustParseAddr("fe80::1"), got[1].Addr)
	assert.Equal(t, netip.MustParseAddr("::ffff:198.51.100.7"), got[2].Addr)

	// Escaped text is reported where it is written.
	esc := []byte("u=%5B2001%3Adb8%3A%3A1%5D&v=%20203.0.113.9")
	got = got[:0]
	for m := range Addrs(esc) {
		got = append(got, m)
	}
	require.Len(t, got, 2)
	assert.Equal(t, Match{netip.MustParseAddr("2001:db8::1"), 5, 22}, got[0])
	assert.Equal(t, Match{netip.MustParseAddr("203.0.113.9"), 31, 42}, got[1])

	// Stopping early stops.
	n := 0
	for range Addrs(text) {
		n++
		break
	}
	assert.Equal(t, 1, n)
}

func TestParse6MatchesNetip(t *testing.T) {
	valid := []string{
		"::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6::", "::2:3:4:5:6:7:8", "1::8",
		"::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "::1.2.3.4", "1::1.2.3.4", "FFFF::ffff",
		"0000:0000:0000:0000:0000:0000:0000:0000", "2001:db8:0:0:1:0:0:1",
	}
	invalid := []string{
		"", ":", ":::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1::2::3", "12345::", "1:2:3:4:5:6:7:8::",
		"::1:2:3:4:5:6:7:8", "1:", ":1", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3", "::1.2.3.256", "g::",
		"1.2.3.4::", "::1.2.3.4:5", "1:2:3:4:5:6:7::8",
	}
	for _, s := range valid {
		got, ok := parse6([]byte(s))
		if assert.True(t, ok, s) {
			assert.Equal(t, netip.MustParseAddr(s), got, s)
		}
	}
	for _, s := range invalid {
		_, ok := parse6([]byte(s))
		assert.False(t, ok, s)
	}
}

func TestFieldMode(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		in   string
		want string
	}{
		{"first column", Options{Fields: []int{1}}, "203.0.113.9 - GET 198.51.100.7", "203.0.113.0 - GET 198.51.100.7"},
		{"host name replaced", Options{Fields: []int{1}}, "client.example.net - GET", "- - GET"},
		{"empty column replaced", Options{Fields: []int{2}}, "a  b", "a - b"},
		{"custom placeholder", Options{Fields: []int{1}, Placeholder: "0.0.0.0"}, "unknown x", "0.0.0.0 x"},
		{"two columns tab", Options{Fields: []int{1, 3}, Delim: '\t'}, "203.0.113.9\tx\t2001:db8:1:2::7", "203.0.113.0\tx\t2001:db8:1::"},
		{"quoted list", Options{Fields: []int{2}, Delim: '|'}, `a|"203.0.113.9, 198.51.100.7"|b`, `a|"203.0.113.0, 198.51.100.0"|b`},
		{"list with ports and brackets", Options{Fields: []int{1}, Delim: '|'}, "[2001:db8:1:2::7]:443,203.0.113.9:80", "[2001:db8:1::]:443,203.0.113.0:80"},
		{"list with a bad item replaced", Options{Fields: []int{1}, Delim: '|'}, "203.0.113.9, unknown", "-"},
		{"trailing comma replaced", Options{Fields: []int{1}, Delim: '|'}, "203.0.113.9,", "-"},
		{"zone", Options{Fields: []int{1}}, "fe80::1%eth0 x", "fe80:: x"},
		{"mapped", Options{Fields: []int{1}}, "::ffff:203.0.113.9 x", "203.0.113.0 x"},
		{"leading zeros", Options{Fields: []int{1}}, "192.000.002.001 x", "192.0.2.0 x"},
		{"percent-encoded replaced", Options{Fields: []int{1}}, "2001%3Adb8%3A%3A1 x", "- x"},
		{"port out of range replaced", Options{Fields: []int{1}}, "203.0.113.9:65536 x", "- x"},
		{"v6 port needs brackets", Options{Fields: []int{1}}, "[2001:db8::1]:x y", "- y"},
		{"ipv4 in brackets replaced", Options{Fields: []int{1}}, "[203.0.113.9] y", "- y"},
		{"other columns untouched", Options{Fields: []int{2}}, "203.0.113.9 198.51.100.7", "203.0.113.9 198.51.100.0"},
		{"missing column", Options{Fields: []int{5}}, "203.0.113.9 x", "203.0.113.9 x"},
		{"each line", Options{Fields: []int{1}}, "203.0.113.9 a\nhost b\n", "203.0.113.0 a\n- b\n"},
		{"empty line stays empty", Options{Fields: []int{1}}, "a\n\nb", "-\n\n-"},
		{"skip private", Options{Fields: []int{1}, SkipPrivate: true}, "10.1.2.3 x", "10.1.2.3 x"},
		// A CRLF line ending (IIS, Windows) is not part of the last column.
		{"crlf after the last column", Options{Fields: []int{2}}, "GET 203.0.113.9\r\nGET host\r\n", "GET 203.0.113.0\r\nGET -\r\n"},
		{"crlf after another column", Options{Fields: []int{1}}, "203.0.113.9 x\r\n", "203.0.113.0 x\r\n"},
		{"crlf alone: an empty line", Options{Fields: []int{1}}, "\r\n", "\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustMasker(t, ipmask.Default, &tt.opts)
			assert.Equal(t, tt.want, m.MaskString(tt.in))
		})
	}
}

func TestSkipPrivate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		keep bool
	}{
		{"rfc1918", "10.1.2.3", true},
		{"loopback v4", "127.0.0.1", true},
		{"link-local v4", "169.254.1.2", true},
		{"public v4", "203.0.113.9", false},
		{"cgnat is masked", "100.64.1.2", false},
		{"ula", "fd00:1:2::3", true},
		// Documented: the key reading (fd12, 2001:db8:1:2::1) is not
		// told from a private address.
		{"ula that also reads as a key and an address", "fd12:2001:db8:1:2::1", true},
		{"a first group of 00fd is no ula", "fd:2001:db8:1:2::1", false},
		{"loopback v6", "::1", true},
		{"link-local v6", "fe80::1", true},
		{"public v6", "2001:db8:1:2::7", false},
		{"mapped private", "::ffff:10.1.2.3", true},
		{"mapped public", "::ffff:203.0.113.9", false},
		{"6to4 of private", "2002:a01:203::1", true},
		{"6to4 of public", "2002:cb00:7109::1", false},
		{"teredo of private client", "2001:0:4136:e378:8000:63bf:f5fe:fdfc", true}, // client 10.1.2.3
		{"teredo of public client", "2001:0:4136:e378:8000:63bf:34ff:8ef6", false}, // client 203.0.113.9
		{"nat64 of private", "64:ff9b::10.1.2.3", true},
		{"nat64 of public", "64:ff9b::203.0.113.9", false},
		{"nat64 local use always masked", "64:ff9b:1:a01:203::", false},
		{"compatible private", "::10.1.2.3", true},
		{"siit public", "::ffff:0:203.0.113.9", false},
		{"isatap link-local private", "fe80::5efe:10.1.2.3", true},
		{"isatap link-local public", "fe80::5efe:203.0.113.9", false},
		{"isatap ula public", "fd00::200:5efe:203.0.113.9", false},
	}
	m := mustMasker(t, ipmask.Default, &Options{SkipPrivate: true})
	assert.Equal(t, "fe80::1 fe80::1", m.MaskString("fe80::1%eth0 fe80::1%203.0.113.9"), "zones dropped")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := m.MaskString("x " + tt.in + " y")
			if tt.keep {
				assert.Equal(t, "x "+tt.in+" y", got)
			} else {
				assert.NotContains(t, got, tt.in)
				for match := range Addrs([]byte(got)) {
					assert.True(t, ipmask.Default.IsMasked(match.Addr), "%s left %v", tt.in, match.Addr)
				}
			}
		})
	}
}

func TestNewMaskerErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"column zero", Options{Fields: []int{0}}, `logmask: Fields: entry 1 of 1: column numbers run from 1 to 64`},
		{"column too high", Options{Fields: []int{3, 65}}, `logmask: Fields: entry 2 of 2:`},
		{"delim digit", Options{Fields: []int{1}, Delim: '1'}, `logmask: Delim: a hex digit`},
		{"delim colon", Options{Fields: []int{1}, Delim: ':'}, `logmask: Delim: a hex digit, ':'`},
		{"delim newline", Options{Fields: []int{1}, Delim: '\n'}, `logmask: Delim: a newline`},
		{"placeholder with delim", Options{Fields: []int{1}, Placeholder: "a b"}, `logmask: Placeholder (3 bytes): the column delimiter at byte 1`},
		{"placeholder with newline", Options{Fields: []int{1}, Placeholder: "a\n"}, `logmask: Placeholder (2 bytes): a newline at byte 1`},
		{"placeholder leaks", Options{Fields: []int{1}, Placeholder: "x=203.0.113.9"}, `logmask: Placeholder (13 bytes): an IPv4 address at byte 2 that ipv4/24,ipv6/48 does not mask`},
		{"max line too small", Options{MaxLine: 10}, `logmask: MaxLine: below 256`},
		{"max line negative", Options{MaxLine: -1}, `logmask: MaxLine: negative`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewMasker(ipmask.Default, &tt.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			_, err = NewWriter(io.Discard, ipmask.Default, &tt.opts)
			assert.Error(t, err)
		})
	}
	_, err := NewWriter(nil, ipmask.Default, nil)
	assert.ErrorContains(t, err, "logmask: NewWriter: nil")
	_, err = Copy(io.Discard, nil, ipmask.Default, nil)
	assert.ErrorContains(t, err, "logmask: Copy: nil")
}

func TestOptionsNotModified(t *testing.T) {
	opts := Options{Fields: []int{3, 1}, Delim: '\t'}
	_, err := NewMasker(ipmask.Default, &opts)
	require.NoError(t, err)
	assert.Equal(t, Options{Fields: []int{3, 1}, Delim: '\t'}, opts)
}

func TestZeroMasker(t *testing.T) {
	var m Masker
	assert.Equal(t, "x 0.0.0.0 :: y", m.MaskString("x 203.0.113.9 2001:db8::1 y"))
}

const sample = "203.0.113.9 - - [11/Jun/2024:08:00:00 +0000] \"GET /c/x HTTP/1.1\" 200 12 \"-\" \"curl/8\" \"198.51.100.7, 2001:db8:1:2::7\"\n" +
	"::ffff:198.51.100.23 - - [11/Jun/2024:08:00:01 +0000] \"GET / HTTP/1.1\" 302 0 \"http://[2001:db8:9:9::1]:8080/\" \"x\"\n" +
	"fe80::1%eth0 last line without newline 10.0.0.1"

// TestWriterSplitsAnywhere writes the sample in two pieces at every
// possible split and in one-byte writes: the output never depends on how
// the input was cut.
func TestWriterSplitsAnywhere(t *testing.T) {
	m := mustMasker(t, ipmask.Default, nil)
	want := m.MaskString(sample)
	for i := 0; i <= len(sample); i++ {
		var out bytes.Buffer
		w, err := NewWriter(&out, ipmask.Default, nil)
		require.NoError(t, err)
		n, err := w.Write([]byte(sample[:i]))
		require.NoError(t, err)
		require.Equal(t, i, n)
		_, err = w.Write([]byte(sample[i:]))
		require.NoError(t, err)
		require.NoError(t, w.Close())
		require.Equal(t, want, out.String(), "split at %d", i)
	}
	var out bytes.Buffer
	n, err := Copy(&out, iotest.OneByteReader(strings.NewReader(sample)), ipmask.Default, nil)
	require.NoError(t, err)
	assert.Equal(t, want, out.String())
	assert.Equal(t, int64(len(want)), n)
}

// TestWriterPassesCompleteLines checks the piped-logger behaviour: a
// complete line is written before Write returns, a partial one waits.
func TestWriterPassesCompleteLines(t *testing.T) {
	var out bytes.Buffer
	w, err := NewWriter(&out, ipmask.Default, nil)
	require.NoError(t, err)
	_, err = w.Write([]byte("203.0.113.9 a\n198.51."))
	require.NoError(t, err)
	assert.Equal(t, "203.0.113.0 a\n", out.String())
	_, err = w.Write([]byte("100.7"))
	require.NoError(t, err)
	assert.Equal(t, "203.0.113.0 a\n", out.String())
	require.NoError(t, w.Close())
	assert.Equal(t, "203.0.113.0 a\n198.51.100.0", out.String())
	require.NoError(t, w.Close(), "second Close")
	_, err = w.Write([]byte("x"))
	assert.ErrorContains(t, err, "logmask: Write after Close")
}

// TestWriterLongLines checks the documented behaviour for lines longer than
// MaxLine: memory stays within MaxLine, and a line with separators comes
// out exactly as if masked whole.
func TestWriterLongLines(t *testing.T) {
	const max = 256
	var line strings.Builder
	for line.Len() < 5*max {
		line.WriteString("203.0.113.9 [2001:db8:1:2::7]:443, fe80::1%eth0 x=198.51.100.7;")
	}
	text := line.String() + "\nshort 203.0.113.9\n"
	m := mustMasker(t, ipmask.Default, nil)
	want := m.MaskString(text)

	for _, chunk := range []int{1, 7, 100, max, 3 * max, len(text)} {
		var out bytes.Buffer
		w, err := NewWriter(&out, ipmask.Default, &Options{MaxLine: max})
		require.NoError(t, err)
		for rest := []byte(text); len(rest) > 0; {
			k := min(chunk, len(rest))
			_, err := w.Write(rest[:k])
			require.NoError(t, err)
			rest = rest[k:]
			assert.LessOrEqual(t, cap(w.pend), max, "held bytes stay bounded")
		}
		require.NoError(t, w.Close())
		assert.Equal(t, want, out.String(), "chunk %d", chunk)
	}
}

// TestWriterLongTokens feeds lines with no safe cut at all: the pieces are
// cut where no dotted quad can be split, and nothing leaks.
// TestWriterCutInsideAddress covers a long line whose only cut points
// fall inside IPv6 address text: the address split there reads in neither
// piece, so the address text around the cut is scrubbed.
func TestWriterCutInsideAddress(t *testing.T) {
	tests := []struct{ name, text, want string }{
		// Unscrubbed, the two pieces of each would read as one address
		// across the cut (::1:0, ::ab12:3456 in part, ::1) that neither
		// piece held to mask.
		{"after a colon", strings.Repeat("0", 250) + "::0001:0 x", strings.Repeat("0", 250) + "__0000_0 x"},
		{"after a hex letter", strings.Repeat("0", 250) + "::ab1234:5 x", strings.Repeat("0", 250) + "__000000_0 x"},
		{"at MaxLine", strings.Repeat("0", 300) + "::0001#0", strings.Repeat("0", 296) + "__#0"},
		// A cut after a hex letter with no colon before it in its
		// stretch splits no more than leading digits: not scrubbed.
		{"after a hex letter, no colon before it", strings.Repeat("0", 250) + "ab1234:5 x", strings.Repeat("0", 250) + "ab1234:5 x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := writeShortLines(t, tt.text)
			assert.Equal(t, tt.want, out)
			for match := range Addrs([]byte(out)) {
				assert.True(t, ipmask.Default.IsMasked(match.Addr), "%v at %d", match.Addr, match.Start)
			}
			assert.Empty(t, plainLeaks(out, ipmask.Default, false))
		})
	}
}

// TestWriterCutAtSafeByteKeepsWhole writes long lines whose last byte
// that cannot touch an address falls at MaxLine or is a '/' before a
// version: cut there, the pieces must mask as the whole line does, not
// be scrubbed as if cut inside an address ("5_0"), nor read the version
// after the '/' as an address and a port (nginx/1.25.3.0.2).
func TestWriterCutAtSafeByteKeepsWhole(t *testing.T) {
	m, err := NewMasker(ipmask.Default, nil)
	require.NoError(t, err)
	for _, tail := range []string{"Mozilla/5.0 203.0.113.9", "nginx/1.25.3.1.2 x", "q=1@2001:db8::1.443 x", "GET /1.2.3.4.5/ x"} {
		for n := minMaxLine - len(tail); n <= minMaxLine; n++ {
			text := strings.Repeat("x ", n)[:n] + tail + "\n"
			assert.Equal(t, string(m.AppendMask(nil, []byte(text))), writeShortLines(t, text), "%d bytes before %q", n, tail)
		}
	}
}

// TestWriterCutInsideHostName writes lines longer than MaxLine with no
// byte that is safe to cut at, which end in a host name that spells an
// address, cut at every byte of it: the address split there reads in
// neither piece, and the dots of the name would make the two pieces read
// as one host name across the cut, so the dots around the cut are
// scrubbed.
func TestWriterCutInsideHostName(t *testing.T) {
	names := []string{
		"ec2-203-0-113-9.compute-1.amazonaws.com",
		"ip-203-0-113-9.ec2.internal",
		"2001-db8-1--7.sslip.io",
		"c633644d.nip.io",
		"9.113.0.203.in-addr.arpa",
		"7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
	}
	pads := []string{"x", "0", "x.", "x-", "-"}
	for _, name := range names {
		for _, pad := range pads {
			t.Run(name+"/after "+pad, func(t *testing.T) {
				for n := minMaxLine - len(name) - 8; n <= minMaxLine; n++ {
					text := strings.Repeat(pad, n/len(pad)+1)[:n] + name + " end\n"
					out := writeShortLines(t, text)
					for match := range Addrs([]byte(out)) {
						assert.True(t, ipmask.Default.IsMasked(match.Addr), "cut %d bytes before the name: %v at %d in %q", minMaxLine-n, match.Addr, match.Start, out[n-8:])
					}
					assert.Empty(t, plainLeaks(out, ipmask.Default, false), "cut %d bytes before the name", minMaxLine-n)
					assert.True(t, strings.HasSuffix(out, " end\n"), "nothing lost")
				}
			})
		}
	}
}

// writeShortLines writes text to a Writer under ipmask.Default with the
// least MaxLine and returns what it wrote.
func writeShortLines(t *testing.T, text string) string {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, ipmask.Default, &Options{MaxLine: minMaxLine})
	require.NoError(t, err)
	_, err = w.Write([]byte(text))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return out.String()
}

func TestWriterLongTokens(t *testing.T) {
	tests := []struct{ name, text string }{
		{"letters and quads", strings.Repeat("g203.0.113.9", 100)},
		{"hex and quads", strings.Repeat("a203.0.113.9", 100)},
		{"colons and quads", strings.Repeat(":203.0.113.9", 100)},
		{"double dots", strings.Repeat("203.0.113.9..", 100)},
		{"digits only", strings.Repeat("7", 1000) + " 203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := writeShortLines(t, tt.text)
			assert.NotContains(t, out, "203.0.113.9")
			if !strings.Contains(tt.text, ":") { // else scrubbed: see TestWriterCutInsideAddress
				assert.Contains(t, out, "203.0.113.0")
			}
			assert.Empty(t, plainLeaks(out, ipmask.Default, false))
		})
	}
}

func TestWriterFieldModeLongLine(t *testing.T) {
	text := "host.example " + strings.Repeat("x 203.0.113.9 ", 50) + "\nhost2 y\n"
	var out bytes.Buffer
	w, err := NewWriter(&out, ipmask.Default, &Options{Fields: []int{1}, MaxLine: 256})
	require.NoError(t, err)
	_, err = w.Write([]byte(text))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	// The first piece is read as columns (the second one passes), the rest
	// of the long line is masked as free text.
	got := out.String()
	assert.True(t, strings.HasPrefix(got, "- x 203.0.113.9 "), got)
	assert.NotContains(t, got[256:], "203.0.113.9")
	assert.True(t, strings.HasSuffix(got, " x 203.0.113.0 \n- y\n"), got)
}

type failWriter struct{ after int }

var errBroken = errors.New("broken pipe")

func (f *failWriter) Write(b []byte) (int, error) {
	if f.after <= 0 {
		return 0, errBroken
	}
	f.after--
	return len(b), nil
}

type shortWriter struct{}

func (shortWriter) Write(b []byte) (int, error) { return len(b) / 2, nil }

func TestWriterErrors(t *testing.T) {
	w, err := NewWriter(&failWriter{after: 1}, ipmask.Default, nil)
	require.NoError(t, err)
	_, err = w.Write([]byte("a\n"))
	require.NoError(t, err)
	_, err = w.Write([]byte("b\n"))
	assert.ErrorIs(t, err, errBroken)
	_, err = w.Write([]byte("c\n"))
	assert.ErrorIs(t, err, errBroken, "the error sticks")
	assert.ErrorIs(t, w.Close(), errBroken)

	w, err = NewWriter(shortWriter{}, ipmask.Default, nil)
	require.NoError(t, err)
	_, err = w.Write([]byte("abcd\n"))
	assert.ErrorIs(t, err, io.ErrShortWrite)

	_, err = Copy(&failWriter{}, strings.NewReader("a\n"), ipmask.Default, nil)
	assert.ErrorIs(t, err, errBroken)

	var out bytes.Buffer
	n, err := Copy(&out, iotest.TimeoutReader(strings.NewReader("203.0.113.9 a\n203.0.113.9")), ipmask.Default, nil)
	assert.ErrorIs(t, err, iotest.ErrTimeout)
	assert.Equal(t, "203.0.113.0 a\n203.0.113.0", out.String(), "what was read is masked and written")
	assert.Equal(t, int64(out.Len()), n)
}

func TestCutPoint(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{"space", "ab cd", 3},
		{"letter", "1.2gg1.2.3", 5},
		{"hex letter", "1.2a1.2.3", 4},
		{"double dot", "1.2..1.2.3", 5},
		{"nothing", "1.2.3.4", 7},
		{"not inside an escape", "a1%20198.51.100.7", 1},
		{"not after a percent", "x%20", 1},
		{"not inside rsyslog's #ooo", "a #011203.0.113.9", 2},
		{"not inside a \\u escape", `a \u0027203.0.113.9`, 2},
		{"not inside a \\x escape", `a \x2`, 2},
		{"after an escape", `a \x22 b`, 7},
		{"after an introducer that starts no escape", "0::0000#0:0:0:0:0:0:0:10", 8},
		{"not after an introducer whose digits may follow", "0::0000#01", 3},
		{"not between a backslash and its x", `0::0000\x2`, 3},
		{"not inside a session ID", "a session=<ESIzRFVmOTDLAHEJ", 2},
		{"not inside a session ID's prefix", "a imap(x)<42><ESIzRFVm", 7},
		{"after a whole session ID", "a session=<ESIzRFVmOTDLAHEJ> b", 29},
		{"not between an audit record's timestamp and its saddr", "x msg=audit(1718092800.123:456): saddr=020001BBCB00", 6},
		{"not inside an audit record's timestamp", "x msg=audit(1718092800.1", 6},
		{"not inside an erlang tuple", "x {203, 0, 113, 9", 2},
		{"after an erlang tuple", "x {203, 0, 113, 9} y", 19},
		{"after an audit record's whole saddr", "x msg=audit(1718092800.123:456): saddr=020001BBCB0071090000000000000000 y", 72},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, cutPoint([]byte(tt.in)))
		})
	}
}

func TestAllocs(t *testing.T) {
	log := genLog(200, 1)
	m := mustMasker(t, ipmask.Default, nil)
	dst := make([]byte, 0, 2*len(log))
	assert.Zero(t, testing.AllocsPerRun(20, func() { dst = m.AppendMask(dst[:0], log) }), "AppendMask")

	fm := mustMasker(t, ipmask.Default, &Options{Fields: []int{1}, SkipPrivate: true})
	assert.Zero(t, testing.AllocsPerRun(20, func() { dst = fm.AppendMask(dst[:0], log) }), "field mode")

	// Text with an escaped colon is decoded on the stack up to 1 KiB (a
	// pool, which the race detector empties at random, serves longer text).
	esc := []byte("GET /r?ip=2001%3Adb8%3A1%3A2%3A%3A7&x=%5B2001:db8::1%5D HTTP/1.1\n")
	esc = append(esc, bytes.Repeat([]byte("x"), stackDecode-len(esc))...)
	assert.Zero(t, testing.AllocsPerRun(20, func() { dst = m.AppendMask(dst[:0], esc) }), "escaped colons")
	assert.Equal(t, "GET /r?ip=2001%3Adb8%3A1%3A%3A&x=%5B2001:db8::%5D HTTP/1.1\n", string(dst[:bytes.IndexByte(dst, '\n')+1]))

	// Masking a stretch again, to settle it, happens on the stack.
	glued := []byte("GET /r/2001:db8:1:2::7abcdz?k=0%3A%3A:1:0:0:0:0:1 src:2001:db8:1:2::7xyz HTTP/1.1\n")
	assert.Zero(t, testing.AllocsPerRun(20, func() { dst = m.AppendMask(dst[:0], glued) }), "settled")
	assert.Equal(t, "GET /r/2001:db8:1::z?k=:: src:2001:db8:1::xyz HTTP/1.1\n", string(dst))

	// MaskString hands back its argument when nothing changes, and
	// allocates only the result when something does.
	var got string
	path := "/l/7Kq2/landing-page/index.html?utm_source=newsletter"
	assert.Zero(t, testing.AllocsPerRun(20, func() { got = m.MaskString(path) }), "MaskString, no address")
	assert.Equal(t, unsafe.StringData(path), unsafe.StringData(got), "the same string, not a copy")
	path = "/l/203.0.113.9/landing-page/index.html?utm_source=newsletter"
	assert.Equal(t, 1.0, testing.AllocsPerRun(20, func() { got = m.MaskString(path) }), "MaskString, an address")
	assert.Equal(t, "/l/203.0.113.0/landing-page/index.html?utm_source=newsletter", got)

	w, err := NewWriter(io.Discard, ipmask.Default, nil)
	require.NoError(t, err)
	_, err = w.Write(log[:100]) // warm up the buffers
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(20, func() {
		_, _ = w.Write(log)
	}), "Writer.Write")
}
