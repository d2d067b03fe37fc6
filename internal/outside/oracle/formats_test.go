package oracle_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// formats are real log layouts the earlier reviews did not generate, each
// written from its vendor's documentation. Slots: {a} an address in any
// plain documented form (no brackets or port: the layout writes those),
// {4} a plain IPv4 address, {6} an IPv6 address in canonical form, {ptr4}
// and {ptr6} the reverse DNS name of a random address (in-addr.arpa,
// ip6.arpa). Everything else is text the documentation says stays.
var formats = map[string][]string{
	"aws elb classic": {`2024-06-11T08:00:00.123456Z my-elb {4}:41234 {4}:80 0.000073 0.001048 0.000057 200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/8.5.0" - -`},
	"aws alb": {`h2 2024-06-11T08:00:02.123456Z app/my-alb/50dc6c495c0c9188 {4}:41000 {4}:80 0.000 0.002 0.000 200 200 40 500 "GET https://www.example.com:443/x HTTP/2.0" "Mozilla/5.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "www.example.com" "-" 0 2024-06-11T08:00:02.000000Z "forward" "-" "-" "{4}:80" "200" "-" "-"`,
		`https 2024-06-11T08:00:01.123456Z app/my-alb/50dc6c495c0c9188 [{6}]:51234 [{6}]:80 0.000 0.001 0.000 200 200 34 366 "GET https://www.example.com:443/ HTTP/1.1" "curl/8.5.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/t/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2024-06-11T08:00:01.000000Z "forward" "-" "-" "[{6}]:80" "200" "-" "-" TID_1234567890abcdef`},
	"aws s3 access": {`79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be awsexamplebucket1 [06/Feb/2019:00:00:38 +0000] {a} arn:aws:iam::123456789012:user/alice 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /awsexamplebucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader awsexamplebucket1.s3.us-west-1.amazonaws.com TLSV1.2 - -`},
	"aws vpc flow": {`2 123456789010 eni-1235b8ca123456789 {a} {a} 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK`,
		`5 123456789010 eni-0123456789abcdef0 vpc-0123456789abcdef0 subnet-0123456789abcdef0 i-0123456789abcdef0 {a} {a} 443 54321 6 1 60 1620140661 1620140721 ACCEPT OK ingress`},
	"gcp lb json": {`{"httpRequest":{"requestMethod":"GET","requestUrl":"https://example.com/a?b=c","requestSize":"123","status":200,"responseSize":"456","userAgent":"curl/8.5.0","remoteIp":"{a}","serverIp":"{a}","latency":"0.002345s","protocol":"HTTP/1.1"},"insertId":"1x2y3z","jsonPayload":{"@type":"type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry","statusDetails":"response_sent_by_backend"},"severity":"INFO","timestamp":"2024-06-11T08:00:00.123456Z"}`},
	"azure front door": {`{"time":"2024-06-11T08:00:00.0000000Z","resourceId":"/SUBSCRIPTIONS/1234/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CDN/PROFILES/FD","category":"FrontDoorAccessLog","properties":{"trackingReference":"08Q0YZAAAAABHPYn8cyvTQKUq5ZVL1sDcU0lOMjIxMDAwMDEyMDE1ADFlZDY","httpMethod":"GET","httpVersion":"2.0.0","requestUri":"https://x.azurefd.net:443/","requestBytes":"715","responseBytes":"380","userAgent":"Mozilla/5.0","clientIp":"{a}","clientPort":"54321","socketIp":"{a}","timeToFirstByte":"0.005","timeTaken":"0.005","requestProtocol":"HTTPS","securityProtocol":"TLS 1.2","httpStatusCode":"200","pop":"SIN","cacheStatus":"CONFIG_NOCACHE"}}`,
		`{"properties":{"instanceId":"appgw_1","clientIP":"{a}","clientPort":65002,"httpMethod":"GET","requestUri":"/","userAgent":"-","httpStatus":200,"httpVersion":"HTTP/1.1","receivedBytes":1000,"sentBytes":2000,"timeTaken":0.012,"sslEnabled":"off","host":"example.com","originalHost":"{4}","serverRouted":"{4}:80","serverStatus":"200","serverResponseLatency":"0.010"}}`},
	"envoy istio": {`[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "{a}" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://{4}:9000"`,
		`[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "{4}:80" outbound|8000||httpbin.foo.svc.cluster.local {4}:37380 {4}:8000 {4}:51276 - default`,
		`[2020-11-25T21:26:18.409Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 135 4 4 "{a},{a}" "curl/7.73.0" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "[{6}]:80" inbound|80|| [{6}]:37380 [{6}]:80 [{6}]:51276 outbound_.8000_._.httpbin.foo.svc.cluster.local default`},
	"kubernetes audit": {`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"7c9e6679-7425-40de-944b-e07cc4f8e4f5","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods?limit=500","verb":"list","user":{"username":"system:admin","groups":["system:masters","system:authenticated"]},"sourceIPs":["{a}","{a}","{a}"],"userAgent":"kubectl/v1.29.0 (linux/amd64) kubernetes/3f7a50f","objectRef":{"resource":"pods","namespace":"default","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2024-06-11T08:00:00.123456Z"}`},
	"iis w3c":          {"2024-06-11 08:00:00 {a} GET /default.htm q=1 443 - {a} Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64) https://example.com/ 200 0 0 15\r"},
	"squid": {`1718092800.123    145 {a} TCP_MISS/200 1234 GET http://example.com/ - HIER_DIRECT/{a} text/html`,
		`1718092800.456      0 {a} TCP_DENIED/403 3900 CONNECT {4}:443 - HIER_NONE/- text/html`},
	"varnish": {`{a} - - [11/Jun/2024:08:00:00 +0000] "GET http://example.com/ HTTP/1.1" 200 1234 "-" "curl/8.5.0"`,
		`-   ReqStart       {a} 54321 a0`, `-   ReqHeader      X-Forwarded-For: {a}, {a}`, `-   BackendOpen    26 default {4} 8080 {4} 41234 connect`},
	"lighttpd tomcat": {`{a} example.com - [11/Jun/2024:08:00:00 +0000] "GET / HTTP/1.1" 200 1234 "-" "curl/8.5.0"`,
		`{a} - - [11/Jun/2024:08:00:00 +0000] "GET /app HTTP/1.1" 200 1234 12`},
	"sshd": {`Jun 11 08:00:00 host sshd[1234]: Accepted publickey for alice from {a} port 54321 ssh2: ED25519 SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s`,
		`Jun 11 08:00:01 host sshd[1235]: Connection closed by authenticating user root {a} port 22 [preauth]`,
		`Jun 11 08:00:02 host sshd[1236]: Connection from {a} port 54321 on {a} port 22 rdomain ""`},
	"netfilter": {`Jun 11 08:00:00 fw kernel: [12345.678901] IN=eth0 OUT= MAC=00:16:3e:12:34:56:00:16:3e:65:43:21:08:00 SRC={4} DST={4} LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=54321 DF PROTO=TCP SPT=54321 DPT=22 WINDOW=29200 RES=0x00 SYN URGP=0`,
		`Jun 11 08:00:00 fw kernel: [drop] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:ab:cd:ef:86:dd SRC={6} DST={6} LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=123456 PROTO=TCP SPT=54321 DPT=443 WINDOW=64800 RES=0x00 SYN URGP=0 MARK=0x1`},
	"zeek suricata": {"1718092800.123456\tCHhAvVGS1DHFjwGM9\t{a}\t54321\t{a}\t443\ttcp\tssl\t0.512345\t100\t200\tSF\tT\tF\t0\tShADadFf\t10\t1000\t12\t2000\t-",
		`{"timestamp":"2024-06-11T08:00:00.123456+0000","flow_id":1234567890123456,"in_iface":"eth0","event_type":"alert","src_ip":"{a}","src_port":54321,"dest_ip":"{a}","dest_port":443,"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":2013504,"rev":6,"signature":"ET POLICY GNU/Linux APT User-Agent","category":"Not Suspicious Traffic","severity":3},"http":{"hostname":"example.com","url":"/","http_user_agent":"curl/8.5.0","xff":"{a}"}}`},
	"cef leef": {`CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src={a} dst={a} spt=1232 dpt=443 dhost=host.example.com smac=00:0d:60:af:1b:61 act=blocked`,
		`LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src={a}^dst={a}^sev=5^cat=anomaly^srcPort=81^dstPort=21^usrName=joe.black`},
	"gelf logfmt": {`{"version":"1.1","host":"example.org","short_message":"Login from {a} failed","full_message":"Backtrace here\n\nmore stuff","timestamp":1385053862.3072,"level":1,"_user_id":9001,"_client_ip":"{a}"}`,
		`time=2024-06-11T08:00:00Z level=info msg="request done" remote_addr={a} x_forwarded_for="{a}, {a}" method=GET path=/ status=200 duration=1.234ms`},
	"csv tsv": {`"2024-06-11 08:00:00","{a}","GET","/","200","""quoted"" {a} text",{a}`, "2024-06-11\t08:00:00\t{a}\tGET\t/\t200\t\"{a}\""},
	"databases": {`2024-06-11 08:00:00.123 UTC [12345] LOG:  connection received: host={a} port=54321`,
		`2024-06-11 08:00:00.124 UTC [12346] FATAL:  no pg_hba.conf entry for host "{a}", user "app", database "app", no encryption`,
		`2024-06-11T08:00:00.123456Z 12 [Warning] [MY-010055] [Server] IP address '{a}' could not be resolved: Name or service not known`,
		`2024-06-11T08:00:00.123456Z 13 [Note] Access denied for user 'root'@'{a}' (using password: YES)`,
		`12345:M 11 Jun 2024 08:00:00.123 - Accepted {4}:54321`, `12345:M 11 Jun 2024 08:00:00.124 - Accepted [{6}]:6379`,
		`{"t":{"$date":"2024-06-11T08:00:00.123+00:00"},"s":"I","c":"NETWORK","id":22943,"ctx":"listener","msg":"Connection accepted","attr":{"remote":"{4}:54321","uuid":"7c9e6679-7425-40de-944b-e07cc4f8e4f5","connectionId":12,"connectionCount":3}}`,
		`{"t":{"$date":"2024-06-11T08:00:00.123+00:00"},"s":"I","c":"NETWORK","id":51800,"ctx":"conn12","msg":"client metadata","attr":{"remote":"[{6}]:27017","client":"conn12"}}`},
	"tracebacks": {`java.net.ConnectException: Connection refused: example.com/{4}:5678`,
		`	at java.base/sun.nio.ch.Net.connect(Net.java:579) caused by /[{6}]:443`,
		`ConnectionRefusedError: [Errno 111] Connection refused ('{4}', 5678)`, `OSError: [Errno 101] Network is unreachable ('{6}', 443, 0, 0)`,
		`dial tcp {4}:443: i/o timeout`, `dial tcp [{6}]:443: connect: network is unreachable`,
		`read tcp {4}:54321->{4}:443: read: connection reset by peer`, `write tcp [{6}]:54321->[{6}]:443: write: broken pipe`},
	"dns": {`11-Jun-2024 08:00:00.123 queries: info: client @0x7f1234567890 {a}#54321 ({ptr4}): query: {ptr4} IN PTR + ({4})`,
		`11-Jun-2024 08:00:00.124 queries: info: client @0x7f1234567891 {a}#54321 ({ptr6}): query: {ptr6} IN PTR -E(0)D ({a})`,
		`Jun 11 08:00:00 dnsmasq[123]: query[PTR] {ptr4} from {a}`, `Jun 11 08:00:00 unbound[1:0] info: {a} {ptr6} PTR IN`},
}

// plainForm returns a form with no text of its own around the address.
func plainForm(r *rand.Rand) form {
	for {
		if f := randForm(r); f.pre == "" && f.suffix == "" {
			return f
		}
	}
}

// ptr4 returns the in-addr.arpa name of a random address and what the
// documentation says it becomes under p: each of the four labels keeps
// the bits the policy keeps of it in both readings, reversed (the address
// it stands for) and forward (a dotted quad).
func ptr4(r *rand.Rand, p ipmask.Policy) (string, string) {
	var a netip.Addr
	if r.IntN(3) == 0 {
		a = priv4(r)
	} else {
		a = pub4(r)
	}
	o := a.As4()
	labels := [4]byte{o[3], o[2], o[1], o[0]}
	keep := func(octet int) int { return max(0, min(8, p.IPv4Bits()-8*octet)) }
	var in, out []string
	for i, v := range labels {
		k := min(keep(3-i), keep(i))
		in = append(in, fmt.Sprint(v))
		out = append(out, fmt.Sprint(v&byte(0xff<<(8-k))))
	}
	return strings.Join(in, ".") + ".in-addr.arpa", strings.Join(out, ".") + ".in-addr.arpa"
}

// ptr6 returns the ip6.arpa name of a random address, and that of the
// address masked.
func ptr6(r *rand.Rand, p ipmask.Policy) (string, string) {
	var a netip.Addr
	if r.IntN(4) == 0 {
		a = priv6(r)
	} else {
		a = pub6(r)
	}
	name := func(a netip.Addr) string {
		b := a.As16()
		var s []string
		for i := 15; i >= 0; i-- {
			s = append(s, fmt.Sprintf("%x", b[i]&0xf), fmt.Sprintf("%x", b[i]>>4))
		}
		return strings.Join(s, ".") + ".ip6.arpa"
	}
	return name(a), name(p.Mask(a))
}

// fill returns a line of the template with its slots filled at random.
func fill(r *rand.Rand, p ipmask.Policy, tmpl string) line {
	var l line
	for len(tmpl) > 0 {
		i := strings.IndexByte(tmpl, '{')
		j := strings.IndexByte(tmpl[max(i, 0):], '}') + max(i, 0)
		slot := ""
		if i >= 0 && j > i {
			slot = tmpl[i+1 : j]
		}
		switch slot {
		case "a", "4", "6", "ptr4", "ptr6":
		default:
			if i < 0 {
				l = append(l, lit(tmpl))
				return l
			}
			l = append(l, lit(tmpl[:i+1]))
			tmpl = tmpl[i+1:]
			continue
		}
		if i > 0 {
			l = append(l, lit(tmpl[:i]))
		}
		tmpl = tmpl[j+1:]
		switch slot {
		case "a":
			l = append(l, plainForm(r).pieces()...)
		case "4":
			a := pub4(r)
			if r.IntN(3) == 0 {
				a = priv4(r)
			}
			l = append(l, ip(a.String(), a))
		case "6":
			a := pub6(r)
			if r.IntN(3) == 0 {
				a = priv6(r)
			}
			l = append(l, ip(a.String(), a))
		case "ptr4":
			in, out := ptr4(r, p)
			l = append(l, piece{text: in, isIP: true, want: out})
		case "ptr6":
			in, out := ptr6(r, p)
			l = append(l, piece{text: in, isIP: true, want: out})
		}
	}
	return l
}

// TestRealFormatsAgreeWithReference fills every format's lines with
// random addresses, many times, and masks them with AppendMask and a
// Writer cut at random points, under every policy (SkipPrivate does not
// apply to reverse DNS names, which are checked without it): each address
// must become what the reference says and every other byte stay. Checked
// to fail: with a slot's expected text taken from the unmasked address,
// with ptr4's "both readings" rule dropped (the reversed reading alone),
// and with a template's literal text changed in the expected line only.
func TestRealFormatsAgreeWithReference(t *testing.T) {
	for name, tmpls := range formats {
		t.Run(name, func(t *testing.T) {
			for _, p := range policies(t) {
				for _, skip := range []bool{false, true} {
					if skip && strings.Contains(strings.Join(tmpls, ""), "{ptr") {
						continue
					}
					opts := &logmask.Options{SkipPrivate: skip}
					m, err := logmask.NewMasker(p, opts)
					require.NoError(t, err)
					r := rand.New(rand.NewPCG(uint64(len(name)), uint64(p.IPv4Bits()<<8|p.IPv6Bits())))
					for range 30 {
						var ls []line
						var in strings.Builder
						for _, tmpl := range tmpls {
							l := fill(r, p, tmpl)
							ls = append(ls, l)
							in.WriteString(l.String() + "\n")
						}
						out := string(m.AppendMask(nil, []byte(in.String())))
						require.Equal(t, out, writeChunks(t, r, p, opts, in.String()))
						got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
						require.Len(t, got, len(ls))
						for i, l := range ls {
							if !check(t, p, skip, l, got[i]) {
								t.FailNow()
							}
						}
					}
				}
			}
		})
	}
}

// TestRealFormatsFieldMode masks the formats whose columns are fixed
// (Zeek's conn.log and a CloudFront-style TSV by tab, VPC flow logs and
// IIS W3C by space) in field mode, naming their address columns: each
// address there must become what the reference says, and every other
// column stay, byte for byte (the CRLF IIS writes too). Checked to fail:
// with a wrong column number, which passes an address through.
func TestRealFormatsFieldMode(t *testing.T) {
	tests := []struct {
		name   string
		tmpl   string
		delim  byte
		fields []int
	}{
		{"zeek conn.log", formats["zeek suricata"][0], '\t', []int{3, 5}},
		{"tsv", formats["csv tsv"][1], '\t', []int{3, 7}},
		{"vpc flow v2", formats["aws vpc flow"][0], ' ', []int{4, 5}},
		{"vpc flow v5", formats["aws vpc flow"][1], ' ', []int{7, 8}},
		{"iis w3c", formats["iis w3c"][0], ' ', []int{3, 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range policies(t) {
				opts := &logmask.Options{Fields: tt.fields, Delim: tt.delim}
				m, err := logmask.NewMasker(p, opts)
				require.NoError(t, err)
				r := rand.New(rand.NewPCG(uint64(tt.delim), uint64(p.IPv6Bits())))
				for range 50 {
					l := fill(r, p, strings.TrimSuffix(tt.tmpl, "\r"))
					if strings.HasSuffix(tt.tmpl, "\r") {
						l = append(l, lit("\r"))
					}
					in := l.String() + "\n"
					out := string(m.AppendMask(nil, []byte(in)))
					require.Equal(t, out, writeChunks(t, r, p, opts, in))
					if !check(t, p, false, l, strings.TrimSuffix(out, "\n")) {
						t.FailNow()
					}
				}
			}
		})
	}
}

// TestRealFormatsThroughAnonymize runs the anonymize command, built from
// examples/anonymize, on a file of every format's lines (several
// thousand, so that its cores share the work), with its default policy
// and with -ipv4 16 -ipv6 32 -j 2: its output must be what the reference
// says, line by line. Checked to fail: with the command run under
// -ipv4 32 while the reference masks under /16.
func TestRealFormatsThroughAnonymize(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "anonymize")
	build := exec.Command("go", "build", "-o", bin, "github.com/clickanon/clickanon/examples/anonymize")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())
	p16, err := ipmask.New(16, 32)
	require.NoError(t, err)
	for _, run := range []struct {
		p    ipmask.Policy
		args []string
	}{{ipmask.Default, nil}, {p16, []string{"-ipv4", "16", "-ipv6", "32", "-j", "2"}}} {
		r := rand.New(rand.NewPCG(9, uint64(run.p.IPv4Bits())))
		var ls []line
		var in bytes.Buffer
		for len(ls) < 4000 {
			for _, tmpls := range formats {
				l := fill(r, run.p, tmpls[r.IntN(len(tmpls))])
				ls = append(ls, l)
				in.WriteString(l.String() + "\n")
			}
		}
		file := filepath.Join(dir, "in.log")
		require.NoError(t, os.WriteFile(file, in.Bytes(), 0o600))
		cmd := exec.Command(bin, append(run.args, file)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		require.NoError(t, cmd.Run(), errOut.String())
		assert.Empty(t, errOut.String())
		got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		require.Len(t, got, len(ls))
		for i, l := range ls {
			if !check(t, run.p, false, l, got[i]) {
				t.FailNow()
			}
		}
	}
}
