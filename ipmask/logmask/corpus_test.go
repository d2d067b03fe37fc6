package logmask

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
)

// The corpus in testdata/logs holds lines in the formats of real logs
// (syslog and journald, sshd, postfix and sendmail, tcpdump, dante, macOS
// configd and unified log, nginx and Apache, HAProxy, Envoy, Traefik,
// Caddy, ingress-nginx, AWS ELB/ALB and CloudFront, Cloudflare, fail2ban,
// iptables and nftables, IIS W3C and Windows events forwarded by syslog
// with rsyslog's #011 for tabs, MySQL and PostgreSQL, OpenVPN and
// WireGuard, BIND and dnsmasq, Go, Java and Python network errors, exim,
// firewalls (Cisco ASA/FTD, Palo Alto, FortiGate, pfSense, Juniper SRX,
// MikroTik, Check Point, CEF/LEEF, Windows Firewall), Zeek and Suricata,
// Squid, SIP with Asterisk and Kamailio, DHCP servers, cloud load
// balancers and CDNs (GCP, Azure, Fastly, Akamai) and Kubernetes audit
// logs, Elasticsearch, Kafka, ZooKeeper, MongoDB and Redis, PHP-FPM,
// Tomcat and Jetty, percent-encoded query strings),
// written from each format's documentation, and
// application lines whose printf format runs an address into the next word
// (printf.log). Every
// address is marked «like this»: the input is the file without the
// marks, and the expected output is computed from the marks alone, with
// netip and ipmask rather than the scanner, so the test checks both that
// every address is masked and that nothing else changes. Text that the
// package documentation says is dropped with a masked address (a port
// that could be the last group of another reading of it) is marked
// ‹like this›: in the input, not in the expected output.

// corpusFile is one file of the corpus: its input and expected output.
type corpusFile struct {
	name      string
	in, want  []byte
	addresses int
}

const markOpen, markClose = "«", "»"

const dropOpen, dropClose = "‹", "›"

// readCorpus reads every file of testdata/logs.
func readCorpus(t *testing.T, p ipmask.Policy) []corpusFile {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "logs", "*.log"))
	require.NoError(t, err)
	require.NotEmpty(t, names, "testdata/logs holds the corpus")
	var files []corpusFile
	for _, name := range names {
		data, err := os.ReadFile(name)
		require.NoError(t, err)
		f := corpusFile{name: filepath.Base(name)}
		rest := string(data)
		for {
			i := strings.Index(rest, markOpen)
			d := strings.Index(rest, dropOpen)
			if i < 0 && d < 0 {
				break
			}
			if d >= 0 && (i < 0 || d < i) {
				j := strings.Index(rest[d:], dropClose)
				require.Positive(t, j, "%s: unclosed drop mark", f.name)
				f.in = append(f.in, rest[:d]...)
				f.want = append(f.want, rest[:d]...)
				f.in = append(f.in, rest[d+len(dropOpen):d+j]...)
				rest = rest[d+j+len(dropClose):]
				continue
			}
			j := strings.Index(rest[i:], markClose)
			require.Positive(t, j, "%s: unclosed mark", f.name)
			raw := rest[i+len(markOpen) : i+j]
			f.in = append(f.in, rest[:i]...)
			f.want = append(f.want, rest[:i]...)
			f.in = append(f.in, raw...)
			f.want = append(f.want, expectMasked(t, p, f.name, raw)...)
			f.addresses++
			rest = rest[i+j+len(markClose):]
		}
		require.NotContains(t, rest, markClose, "%s: stray mark", f.name)
		require.NotContains(t, rest, dropClose, "%s: stray drop mark", f.name)
		f.in = append(f.in, rest...)
		f.want = append(f.want, rest...)
		files = append(files, f)
	}
	return files
}

// expectMasked is what the package documentation says raw, the whole
// text of one address, becomes under p: kept as written if p already
// masks it and it has no zone, else the masked address in netip's form,
// its colons written "%3A" (or "%3a") where all of raw's were.
func expectMasked(t *testing.T, p ipmask.Policy, file, raw string) string {
	for _, esc := range []string{"%3A", "%3a"} {
		if strings.Contains(raw, esc) && !strings.Contains(raw, ":") {
			plain := strings.ReplaceAll(raw, esc, ":")
			if m := expectMasked(t, p, file, plain); m != plain {
				return strings.ReplaceAll(m, ":", esc)
			}
			return raw
		}
	}
	host, _, zoned := strings.Cut(raw, "%")
	a, err := netip.ParseAddr(host)
	require.NoError(t, err, "%s: the mark around %d bytes holds no address", file, len(raw))
	m := p.Mask(a)
	require.True(t, p.IsMasked(m))
	if m == a.Unmap() && !zoned {
		return raw
	}
	if b := m.As16(); strings.Contains(raw, ".") && m.Is6() && [4]byte(b[12:]) != [4]byte{} {
		t.Fatalf("%s: a dotted tail that survives the policy needs its own rule here", file)
	}
	return m.String()
}

// TestRealLogFormats masks the corpus and compares it with the expected
// output, line by line, with AppendMask and with a Writer.
func TestRealLogFormats(t *testing.T) {
	for _, p := range []ipmask.Policy{ipmask.Default, mustPolicy(t, 16, 32)} {
		m := mustMasker(t, p, nil)
		total := 0
		for _, f := range readCorpus(t, p) {
			t.Run(p.String()+"/"+f.name, func(t *testing.T) {
				require.GreaterOrEqual(t, f.addresses, 5, "each format has a line per address form")
				total += f.addresses
				inLines := bytes.SplitAfter(f.in, []byte("\n"))
				wantLines := bytes.SplitAfter(f.want, []byte("\n"))
				require.Len(t, wantLines, len(inLines))
				for k := range inLines {
					got := m.AppendMask(nil, inLines[k])
					assert.Equal(t, string(wantLines[k]), string(got), "line %d", k+1)
				}
				var out bytes.Buffer
				w, err := NewWriter(&out, p, nil)
				require.NoError(t, err)
				_, err = w.Write(f.in)
				require.NoError(t, err)
				require.NoError(t, w.Close())
				assert.Equal(t, string(f.want), out.String(), "Writer")
				assert.Empty(t, plainLeaks(string(f.want), p, false), "independent check of the expected output")
				assert.NotEmpty(t, plainLeaks(string(f.in), p, false), "independent check of the input")
			})
		}
		assert.GreaterOrEqual(t, total, 200)
	}
}

func mustPolicy(t *testing.T, v4, v6 int) ipmask.Policy {
	t.Helper()
	p, err := ipmask.New(v4, v6)
	require.NoError(t, err)
	return p
}
