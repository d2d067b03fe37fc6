package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// TestBinaryKeepsNoAddress is the answer to "do we store IPs?", on the
// real binary as it is deployed. A linktracker behind a trusted proxy
// (127.0.0.1) gets visitors at every address form ipmasktest knows (IPv4,
// IPv6, IPv4-mapped and -compatible, 6to4, Teredo, NAT64, ISATAP, and the
// texts around them: ports, zones, leading zeros, lists), named by the
// proxy in X-Forwarded-For, Forwarded or CF-Connecting-IP
// (-client-ip-header), and one visitor that connects itself (127.0.1.2,
// the socket's peer). Each form is also written into every other place a
// request has: X-Forwarded-For, Forwarded, CF-Connecting-IP, X-Real-IP,
// Via, the User-Agent, the Referer, a cookie, the query string, the path,
// and the link-creation request (whose URL may not hold its creator's own
// address). Then the process is killed (SIGKILL, leaving SQLite's -wal
// and -shm behind), started again on the same files, and stopped with
// SIGTERM.
//
// Every byte it left behind and emitted holds none of those addresses,
// in text (any spelling logmask reads) or in binary (4 or 16 bytes, or
// their hex): every file in its working directory after the kill and
// after the clean stop (the SQLite database and its -wal and -shm), the
// Redis snapshot and a pg_dump of the PostgreSQL database, and every
// answer (headers and bodies: the redirects, the stats API, the
// dashboard, /metrics, /healthz). Its log (stderr) and its answers hold
// no address at all beyond what ipmask.Default keeps; stdout names only
// the servers it listens on and connects to.
func TestBinaryKeepsNoAddress(t *testing.T) {
	t.Parallel() // child processes and servers: mostly waiting
	for _, tt := range []struct{ backend, via string }{
		{backend: "memory, sqlite", via: "X-Forwarded-For"},
		{backend: "redis, postgres", via: "Forwarded"},
		{backend: "memory, sqlite", via: "CF-Connecting-IP"},
	} {
		backend := tt.backend
		t.Run(backend+", "+tt.via, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := []string{"-db", "sqlite:links.db", "-flush-interval", "1s", "-create-per-minute", "0", "-client-ip-header", tt.via}
			var srv *redistest.Server
			var pg string
			if strings.HasPrefix(backend, "redis") {
				srv = redistest.Start(t, &redistest.Options{Local: true}) // Save needs a local server
				args = append(args, "-redis", srv.Addr())
			}
			if strings.HasSuffix(backend, "postgres") {
				pg = startPostgres(t)
				args[1] = pg
			}
			p := startProcIn(t, dir, args...)
			v := &canaryVisits{t: t, p: p, via: tt.via}
			id := v.createLink()
			v.visit(id)
			st := p.stats(id)
			require.GreaterOrEqual(t, st.Clicks, uint64(len(v.clients)), "every client's click is counted")
			v.readAnswers(id)
			p.waitFlushed()

			dumps := map[string][]byte{}
			if srv != nil {
				dumps["the Redis snapshot"] = srv.Save()
			}
			if pg != "" {
				dumps["pg_dump"] = pgDump(t, pg)
			}
			_ = p.stop(syscall.SIGKILL) // the exit error says it was killed
			readFiles(t, dir, "after SIGKILL", dumps)
			if pg == "" {
				require.Contains(t, dumps, "links.db-wal after SIGKILL", "a killed process leaves the write-ahead log")
			}

			again := startProcIn(t, dir, args...)
			v.p = again
			require.Positive(t, again.stats(id).Clicks, "the restarted process reads the counts")
			v.readAnswers(id)
			require.NoError(t, again.stop(syscall.SIGTERM))
			readFiles(t, dir, "after SIGTERM", dumps)

			targets := append(slices.Clone(v.clients), netip.MustParseAddr("203.0.113.9")) // the IPv4 the transition forms carry
			for name, dump := range dumps {
				require.Greater(t, len(dump), 1000, "%s: a dump of a few bytes proves nothing", name)
				t.Logf("%s: %d bytes", name, len(dump))
				// Pseudonyms and sketches are random bytes, which can read
				// as some address: look for the visitors'.
				ipmasktest.AssertNoRawIPOf(t, ipmask.Default, dump, targets, name)
				for _, a := range targets {
					assertNoBinaryAddr(t, dump, a, name)
				}
			}
			for i, b := range v.answers {
				ipmasktest.AssertNoRawIP(t, ipmask.Default, b, "answer %d", i)
			}
			for _, q := range []*proc{p, again} {
				// stdout names the servers, as they are: the listen
				// address and the database's and Redis's, all on
				// 127.0.0.1 here. stderr, the log, is checked for every
				// address by startProcIn.
				for _, l := range ipmasktest.Leaks(ipmask.Default, q.stdout.String()) {
					assert.Equal(t, "127.0.0.1", l.Addr.String(), "stdout names an address other than the servers'")
				}
			}
		})
	}
}

// canaryVisits sends requests that carry canary addresses to a process
// and keeps every answer, headers and body, for the leak check.
type canaryVisits struct {
	t       *testing.T
	p       *proc
	via     string       // the header the proxy names the client in
	clients []netip.Addr // the addresses the visits came from
	answers []string
}

// trackerHost is the Host the requests name, so that the URLs the
// tracker builds from it (tracking_url, the index page) hold no address.
const trackerHost = "links.example"

// send makes one request through the trusted proxy and keeps the answer.
func (v *canaryVisits) send(method, path string, h http.Header, body string) (int, string) {
	v.t.Helper()
	return v.sendFrom(noRedirect, method, path, h, body)
}

// sendFrom is send through client.
func (v *canaryVisits) sendFrom(client *http.Client, method, path string, h http.Header, body string) (int, string) {
	v.t.Helper()
	req, err := http.NewRequest(method, v.p.base+path, strings.NewReader(body))
	require.NoError(v.t, err)
	req.Host = trackerHost
	for k, vals := range h {
		req.Header[k] = vals
	}
	resp, err := client.Do(req)
	require.NoError(v.t, err, "%s %s", method, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(v.t, err)
	var head bytes.Buffer
	require.NoError(v.t, resp.Header.Write(&head))
	v.answers = append(v.answers, head.String()+"\n"+string(b))
	return resp.StatusCode, string(b)
}

// headers writes text, an address in one of ipmasktest's forms, into every
// header a request may carry an address in, and names client (text's
// address, cleanly written) in the header via as the proxy would: after
// text in X-Forwarded-For and Forwarded, in place of it in a header that
// holds one address.
func headers(text string, client netip.Addr, i int, via string) http.Header {
	h := http.Header{
		"X-Forwarded-For":  {text},
		"Forwarded":        {`for="` + text + `"`},
		"Cf-Connecting-Ip": {text},
		"X-Real-Ip":        {text},
		"User-Agent":       {browser + " canary/" + strings.Repeat("x", i) + " (from " + text + ")"},
		"Referer":          {"http://" + text + "/from?ip=" + url.QueryEscape(text)},
		"Cookie":           {"ip=" + text + "; seen=" + client.String()},
		"Via":              {"1.1 " + text + " (squid/5.7)"},
	}
	if i%2 == 1 {
		// Every other visitor's Referer spells its address in hex, as
		// nip.io and ISPs' reverse DNS names do.
		b := client.AsSlice()
		h["Referer"] = []string{"http://app-" + hex.EncodeToString(b) + ".nip.io/"}
		if len(b) == 4 {
			h["Referer"] = []string{"http://p" + hex.EncodeToString(b) + ".dip0.t-ipconnect.de/"}
		}
	}
	name := http.CanonicalHeaderKey(via)
	switch name {
	case "X-Forwarded-For":
		h[name] = append(h[name], client.String())
	case "Forwarded":
		h[name] = append(h[name], `for="`+netip.AddrPortFrom(client, 4711).String()+`"`)
	default:
		h[name] = []string{client.String()}
	}
	return h
}

// alone is h with the header via holding text alone, as a client that
// sends it through the proxy untouched would have it.
func alone(h http.Header, text, via string) http.Header {
	h = h.Clone()
	name := http.CanonicalHeaderKey(via)
	if name == "Forwarded" {
		text = `for="` + text + `"`
	}
	h[name] = []string{text}
	return h
}

// createLink creates the link the visits click, from a canary client that
// writes its address into the request's headers and query string, and
// returns its ID.
func (v *canaryVisits) createLink() string {
	v.t.Helper()
	client := netip.MustParseAddr("2001:db8:1:2::7")
	code, body := v.send("POST", "/api/links?ip="+client.String(), headers(client.String(), client, 0, v.via), `{"url": "https://example.com/landing?campaign=spring"}`)
	require.Equal(v.t, http.StatusCreated, code, body)
	id, _, _ := strings.Cut(strings.TrimPrefix(body[strings.Index(body, `"id": "`):], `"id": "`), `"`)
	require.True(v.t, validID(id), body)
	return id
}

// visit sends, for every form of ipmasktest.Cases, clicks, a HEAD, a
// conversion, a click on a path that spells the address and one on a
// path not in canonical form.
func (v *canaryVisits) visit(id string) {
	v.t.Helper()
	for i, c := range ipmasktest.Cases() {
		client := c.Addr.WithZone("")
		if !slices.Contains(v.clients, client) {
			v.clients = append(v.clients, client)
		}
		h := headers(c.Text, client, i, v.via)
		q := "?ip=" + url.QueryEscape(c.Text) + "&raw=" + client.String()
		code, body := v.send("GET", "/l/"+id+q, h, "")
		require.Equal(v.t, http.StatusFound, code, body)
		// The text alone in the proxy's header: the resolver answers it
		// or fails closed (a zone, a port, a list, words around it).
		code, body = v.send("GET", "/l/"+id+q, alone(h, c.Text, v.via), "")
		require.Equal(v.t, http.StatusFound, code, body)
		v.send("HEAD", "/l/"+id+q, h, "")
		v.send("GET", "/c/"+id+".gif"+q, h, "")
		v.send("GET", "/c/any.gif"+q, h, "")
		code, _ = v.send("GET", "/l/"+url.PathEscape(c.Text), h, "")
		require.Equal(v.t, http.StatusNotFound, code)
		// A path not in canonical form is redirected to its clean form,
		// with the query: the redirect must not write the address back.
		code, _ = v.send("GET", "/l//"+id+q, h, "")
		require.Equal(v.t, http.StatusTemporaryRedirect, code)
		// A link whose URL holds its creator's own address: it would be
		// stored and shown with the link.
		for _, link := range []any{
			map[string]any{"url": "https://example.com/landing?ip=" + c.Text},
			map[string]any{"url": "https://example.com/", "geo": map[string]any{"countries": map[string]string{"DE": "https://example.de/?ip=" + c.Text}}},
		} {
			js, err := json.Marshal(link)
			require.NoError(v.t, err)
			code, body = v.send("POST", "/api/links", h, string(js))
			require.Equal(v.t, http.StatusBadRequest, code, "%s: %s", c.Name, body)
		}
	}
	require.GreaterOrEqual(v.t, len(v.clients), 8, "the address forms")

	// A visitor that connects itself, from another loopback address than
	// the proxy's: the tracker reads the socket's peer address.
	peer := netip.MustParseAddr("127.0.1.2") // not in the /24 of the servers, 127.0.0.1
	direct := &http.Client{
		CheckRedirect: noRedirect.CheckRedirect,
		Timeout:       noRedirect.Timeout,
		Transport: &http.Transport{DialContext: (&net.Dialer{
			LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(peer, 0)),
		}).DialContext},
	}
	defer direct.CloseIdleConnections()
	v.clients = append(v.clients, peer)
	h := headers(peer.String(), peer, 0, "X-Forwarded-For")
	delete(h, "X-Forwarded-For") // what a proxy would add
	code, body := v.sendFrom(direct, "GET", "/l/"+id+"?ip="+peer.String(), h, "")
	require.Equal(v.t, http.StatusFound, code, body)
	code, body = v.sendFrom(direct, "POST", "/api/links?ip="+peer.String(), h, `{"url": "https://example.com/direct"}`)
	require.Equal(v.t, http.StatusCreated, code, body)
}

// readAnswers reads everything the tracker shows about the link and
// itself.
func (v *canaryVisits) readAnswers(id string) {
	v.t.Helper()
	for _, path := range []string{"/api/links/" + id + "/stats?zeros=true", "/links/" + id, "/", "/metrics", "/healthz"} {
		code, body := v.send("GET", path, nil, "")
		require.Less(v.t, code, 600, "%s: %s", path, body)
	}
}

// readFiles adds every file under dir to dumps, named with when.
func readFiles(t *testing.T, dir, when string, dumps map[string][]byte) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		if len(b) > 0 {
			dumps[e.Name()+" "+when] = b
		}
	}
}

// pgDump is pg_dump's plain-text dump of the database at url: every
// table's definition and rows, bytea values in hex.
func pgDump(t *testing.T, url string) []byte {
	t.Helper()
	bin, err := exec.LookPath("pg_dump")
	if err != nil {
		found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
		require.NotEmpty(t, found, "pg_dump is neither on PATH nor under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
		bin = found[len(found)-1]
	}
	out, err := exec.Command(bin, "--no-owner", "--dbname="+url).Output()
	require.NoError(t, err, "pg_dump")
	return out
}

// hexAddr is a's bytes in lower-case hex, as pg_dump writes a bytea: 8
// digits for an IPv4 address (also mapped), 32 for IPv6.
func hexAddr(a netip.Addr) []string {
	a16 := a.As16()
	out := []string{hex.EncodeToString(a16[:])}
	if u := a.Unmap(); u.Is4() {
		a4 := u.As4()
		out = append(out, hex.EncodeToString(a4[:]))
	}
	return out
}
