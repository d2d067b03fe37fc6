package masklog_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
)

// A form is one way a log writes an address: its text, and the strings
// that would show more of the address than a policy keeping fewer bits
// than its lowest set bit allows (the address's own text in that form,
// and of any IPv4 address it carries).
type form struct {
	name string
	text string
	raw  []string
}

// v4 returns a random public IPv4 address whose last octet is not 0, so
// that masking under /24 or shorter changes it.
func v4(r *rand.Rand) netip.Addr {
	for {
		a := netip.AddrFrom4([4]byte{byte(1 + r.IntN(222)), byte(r.IntN(256)), byte(r.IntN(256)), byte(1 + r.IntN(254))})
		if !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast() && a.As4()[0] != 100 && a.As4()[0] != 127 {
			return a
		}
	}
}

// v6 returns a random global IPv6 address in 2001:db8::/32 whose last
// 80 bits are not all zero nor any group after the third zero, so that
// its text in every form is distinctive.
func v6(r *rand.Rand) netip.Addr {
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
	for i := 4; i < 16; i += 2 {
		b[i], b[i+1] = byte(1+r.IntN(255)), byte(r.IntN(256))
	}
	return netip.AddrFrom16(b)
}

// pctColon writes s with each ':' percent-encoded, times times.
func pctColon(s string, times int) string {
	enc := "%3A"
	for range times - 1 {
		enc = "%25" + enc[1:]
	}
	return strings.ReplaceAll(s, ":", enc)
}

// forms4 and forms6 are the forms an address of each family takes in
// logs, for a random address.
func forms4(r *rand.Rand) []form {
	a := v4(r)
	s := a.String()
	o := a.As4()
	zp := fmt.Sprintf("%03d.%03d.%03d.%03d", o[0], o[1], o[2], o[3])
	mapped := netip.AddrFrom16(a.As16())
	hx := fmt.Sprintf("%x:%x", uint16(o[0])<<8|uint16(o[1]), uint16(o[2])<<8|uint16(o[3]))
	port := fmt.Sprint(1 + r.IntN(65535))
	raws := []string{s, zp, hx}
	return []form{
		{"v4", s, raws},
		{"v4 port", s + ":" + port, raws},
		{"v4 leading zeros", zp, raws},
		{"v4 mapped", "::ffff:" + s, raws},
		{"v4 mapped upper", "::FFFF:" + s, raws},
		{"v4 mapped full", "0:0:0:0:0:ffff:" + s, raws},
		{"v4 mapped hex", "::ffff:" + hx, raws},
		{"v4 mapped bracket port", "[::ffff:" + s + "]:" + port, raws},
		{"v4 mapped pct", pctColon(mapped.String(), 1), raws},
		{"v4 mapped pct twice", pctColon(mapped.String(), 2), raws},
		{"v4 after a space encoded twice", "%2520" + s, raws},
		{"v4 after a quote encoded twice", "%2522" + s + "%2522", raws},
		{"6to4", fmt.Sprintf("2002:%s::1", hx), raws},
		{"nat64", "64:ff9b::" + s, raws},
		{"nat64 hex", "64:ff9b::" + hx, raws},
		{"v4 tcpdump port", s + "." + port, raws},
	}
}

func forms6(r *rand.Rand) []form {
	a := v6(r)
	s := a.String()
	full := a.StringExpanded()
	port := fmt.Sprint(1 + r.IntN(65535))
	raws := []string{s, full, strings.ToUpper(s), strings.ToUpper(full)}
	zone := []string{"eth0", "en0", "1", "wlan0.100"}[r.IntN(4)]
	other4 := v4(r).String()
	return []form{
		{"v6", s, raws},
		{"v6 full", full, raws},
		{"v6 upper", strings.ToUpper(s), raws},
		{"v6 full upper", strings.ToUpper(full), raws},
		{"v6 bracket", "[" + s + "]", raws},
		{"v6 bracket port", "[" + s + "]:" + port, raws},
		{"v6 zone", s + "%" + zone, raws},
		{"v6 bracket zone port", "[" + s + "%" + zone + "]:" + port, raws},
		{"v6 url zone", "[" + s + "%25" + zone + "]:" + port, raws},
		{"v6 pct", pctColon(s, 1), raws},
		{"v6 pct upper", strings.ToUpper(pctColon(s, 1)), raws},
		{"v6 pct twice", pctColon(s, 2), raws},
		{"v6 pct twice bracket", "%255B" + pctColon(full, 2) + "%255D%253A" + port, raws},
		{"v6 pct twice list", pctColon(s, 2) + "%252C" + pctColon(s, 2), raws},
		{"v6 pct twice list with v4", pctColon(s, 2) + "%252C" + other4, append([]string{other4}, raws...)},
		{"v6 list with v4, comma encoded twice", s + "%252C" + other4, append([]string{other4}, raws...)},
		{"v6 pct bracket", "%5B" + pctColon(s, 1) + "%5D%3A" + port, raws},
		{"v6 tcpdump port", s + "." + port, raws},
	}
}

// templates are lines of the log classes named in the issue, each with %[1]s
// where an address goes (some with %[2]s for a second one).
var templates = []struct{ name, line string }{
	{"nginx combined", `%[1]s - - [11/Jun/2024:12:34:56 +0000] "GET /p?x=1 HTTP/1.1" 200 512 "https://example.com/" "Mozilla/5.0 Chrome/120.0.6099.109"`},
	{"nginx combined xff", `proxy1 - - [11/Jun/2024:12:34:56 +0000] "GET / HTTP/2.0" 200 5 "-" "curl/8.5.0" "%[1]s, %[2]s"`},
	{"apache error", `[Tue Jun 11 12:34:56.123456 2024] [core:error] [pid 4321:tid 140] [client %[1]s] AH00037: Symbolic link not allowed`},
	{"json", `{"time":"2024-06-11T12:34:56.789Z","remote_addr":"%[1]s","xff":"%[2]s,%[1]s","status":200}`},
	{"haproxy", `Jun 11 12:34:56 lb1 haproxy[1234]: %[1]s [11/Jun/2024:12:34:56.789] fe~ be/s1 0/0/1/2/3 200 512 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"`},
	{"cloudfront", "2024-06-11\t12:34:56\tIAD89-C1\t512\t%[1]s\tGET\td1.cloudfront.net\t/i.html\t200\t-\tMozilla/5.0\t-\t-\tHit\tAbC==\td1.cloudfront.net\thttps\t99\t0.001\t%[2]s\tTLSv1.3\tTLS_AES_128_GCM_SHA256\tHit\tHTTP/2.0"},
	{"fastly", `<134>2024-06-11T12:34:56Z cache-iad1 fastly[123]: client_ip="%[1]s" host="example.com" url="/x" status=200`},
	{"cloudflare", `{"ClientIP":"%[1]s","ClientRequestHost":"example.com","EdgeStartTimestamp":1718109296000000000,"OriginIP":"%[2]s"}`},
	{"syslog rfc5424", `<34>1 2024-06-11T12:34:56.003Z host sshd 4321 - - Failed password for root from %[1]s port 22 ssh2`},
	{"syslog bsd", `Jun 11 12:34:56 host sshd[4321]: Connection closed by %[1]s`},
	{"journald", "__REALTIME_TIMESTAMP=1718109296000000\n_PID=4321\nMESSAGE=Accepted publickey for u from %[1]s port 5022\n_HOSTNAME=h1"},
	{"go http", `2024/06/11 12:34:56 http: TLS handshake error from %[1]s: EOF`},
	{"go http2", `2024/06/11 12:34:56 http2: server: error reading preface from client %[1]s: read: connection reset by peer`},
	{"xff header", `X-Forwarded-For: %[1]s,%[2]s, %[1]s`},
	{"forwarded header", `Forwarded: for="%[1]s";proto=https, for=%[2]s`},
	{"url host", `GET http://%[1]s/path HTTP/1.1`},
	{"url query", `"GET /r?ip=%[1]s&next=%[2]s HTTP/1.1"`},
	{"url path", `/api/v1/clients/%[1]s/sessions`},
	{"kv", `level=info msg="peer connected" peer=%[1]s remote:%[2]s`},
	{"quotes", `peer '%[1]s' and "%[2]s" and (%[1]s) <%[2]s>`},
}

// glue returns text with a random punctuation byte on each side, as logs
// glue addresses to quotes, brackets, separators.
func glue(r *rand.Rand, text string) string {
	left := []string{"", `"`, "'", "=", " ", "(", ",", ";", "<", "\t", "@", "|", "{", "[", ">"}
	right := []string{"", `"`, "'", ",", ";", ")", ">", " ", "&", "|", "}", "\t", "!"}
	return left[r.IntN(len(left))] + text + right[r.IntN(len(right))]
}
