package linkapi_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// A -trusted-proxies value that is not a comma-separated list of CIDRs
// (or addresses) is refused at start: exit status 2, one line that names
// the flag and which entry is wrong, and never the value's addresses; the
// tracker does not listen. Checked to fail: a value that parses
// ("203.0.113.0/24") added to the rows starts the tracker and fails.
func TestTrustedProxiesRefusedAtStart(t *testing.T) {
	bad := []string{
		"10.0.0.0/33", "300.1.2.3/8", "203.0.113.9/24", "203.0.113.0/24,garbage", "2001:db8::/129",
		"fe80::1%eth0/64", "198.51.100.7/-1", "::ffff:203.0.113.9/120", "0.0.0.0/0", "::/0",
		"203.0.113.0/24;198.51.100.0/24", "203.0.113.0/24 198.51.100.0/24", "203.0.113.0/24,,2001:db8::/32,x",
		"[2001:db8::1]", "203.0.113.9:80", "http://203.0.113.9/", "2001:db8::1/64", "203.0.113.0/024",
	}
	for _, v := range bad {
		cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-db", "sqlite:"+filepath.Join(t.TempDir(), "l.db"), "-trusted-proxies", v)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		done := make(chan error, 1)
		require.NoError(t, cmd.Start())
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			assert.Fail(t, "started", "-trusted-proxies %q was accepted: %s", v, stdout.String())
			continue
		}
		assert.Equal(t, 2, cmd.ProcessState.ExitCode(), "%q", v)
		assert.NotContains(t, stdout.String(), "listening", "%q", v)
		msg := stderr.String()
		assert.True(t, strings.HasPrefix(msg, "linktracker: -trusted-proxies: "), "%q: %s", v, msg)
		assert.Equal(t, 1, strings.Count(strings.TrimSpace(msg), "\n")+1, "%q: one line: %s", v, msg)
		ipmasktest.AssertNoRawIP(t, ipmask.Default, msg, "%q", v)
		for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
			if len(part) > 2 {
				assert.NotContains(t, msg, part, "%q: the error echoes the value", v)
			}
		}
	}
}

// By default (no -trusted-proxies), and when the peer is not among the
// trusted proxies, the client is the peer: an X-Forwarded-For, Forwarded,
// X-Real-IP or CF-Connecting-IP header a client sends, naming any address,
// is ignored. Ten clicks of one browser naming ten addresses from ten
// networks are one visitor in the peer's network. Checked to fail: the
// default row run with -trusted-proxies 127.0.0.1/32 counts ten visitors
// in ten networks (the last row asserts exactly that, so the headers do
// reach the tracker).
func TestClientHeadersIgnoredFromUntrustedPeers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		people uint64
	}{
		{"default", nil, 1},
		{"other proxies", []string{"-trusted-proxies", "10.0.0.0/8,2001:db8::/32,198.51.100.0/24"}, 1},
		{"X-Real-IP from other proxies", []string{"-trusted-proxies", "10.0.0.0/8", "-client-ip-header", "X-Real-IP"}, 1},
		{"Forwarded from other proxies", []string{"-trusted-proxies", "10.0.0.0/8", "-client-ip-header", "Forwarded"}, 1},
		{"loopback trusted", []string{"-trusted-proxies", "127.0.0.1/32"}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, "", tc.args...)
			l := p.create("https://example.com/")
			var named []netip.Addr
			for i := range 10 {
				a := netip.MustParseAddr(fmt.Sprintf("198.51.%d.%d", 10+i, 20+i))
				named = append(named, a)
				h := http.Header{
					"Forwarded":        {fmt.Sprintf("for=%s", a)},
					"X-Real-Ip":        {a.String()},
					"Cf-Connecting-Ip": {a.String()},
				}
				require.Equal(t, http.StatusFound, p.do(req{path: "/l/" + l.ID, xff: a.String(), header: h}).code)
			}
			s := p.stats(l.ID)
			assert.EqualValues(t, 10, s.Clicks)
			assert.Equal(t, tc.people, s.Unique, "visitors")
			logs := p.Stderr.String()
			if tc.people == 1 {
				assert.Equal(t, strings.Count(logs, "msg=request"), strings.Count(logs, "client_network=127.0.0.0/24"), "every request is the peer's")
				assert.NotContains(t, logs, "198.51.", "no named network")
			} else {
				for _, a := range named {
					assert.Contains(t, logs, "client_network="+ipmask.Default.Prefix(a).String())
				}
			}
		})
	}
}
