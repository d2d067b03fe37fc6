package outside_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/internal/testlog"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/logmask"
	"github.com/clickanon/clickanon/retention"
)

// deployment is a service assembled from the README's snippets ("Tracking
// clicks in an existing service", "Finding the client behind a proxy",
// "Masking logs"): a keyring, a Builder with ipmask.Default, a Memory
// store, a Rollup (or another sink), a tracker, the clientip middleware and
// a logger through logmask's handler.
type deployment struct {
	keyring  *retention.Keyring
	builder  *clickstore.Builder
	store    *clickstore.Memory
	stats    *aggregate.Rollup
	tracker  *track.Tracker
	resolver *clientip.Resolver
	mw       func(http.Handler) http.Handler
	logs     *testlog.Buffer // what the masked logger wrote
	log      *slog.Logger    // the service's logger, through logmask
}

// newDeployment builds a deployment whose resolver trusts the proxies in
// trusted (none: the peer alone) with strategy, or RightmostUntrusted when
// strategy is nil. sink replaces the Rollup when not nil.
func newDeployment(t *testing.T, trusted []string, strategy func(*clientip.Trusted) clientip.Strategy, sink clickstore.Sink) *deployment {
	t.Helper()
	d := &deployment{logs: &testlog.Buffer{}}
	h, err := logmask.NewHandler(slog.NewJSONHandler(d.logs, &slog.HandlerOptions{Level: slog.LevelDebug}), ipmask.Default, nil)
	require.NoError(t, err)
	d.log = slog.New(h)

	d.keyring, err = retention.NewKeyring(&retention.KeyringOptions{Logger: d.log})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.keyring.Close() })
	d.builder, err = clickstore.NewBuilder(ipmask.Default, d.keyring, nil)
	require.NoError(t, err)
	d.store, err = clickstore.NewMemory(nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.store.Close() })
	d.stats, err = aggregate.New(nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.stats.Close() })

	if len(trusted) > 0 {
		lb, err := clientip.NewTrusted(trusted...)
		require.NoError(t, err)
		s := clientip.RightmostUntrusted(lb)
		if strategy != nil {
			s = strategy(lb)
		}
		d.resolver, err = clientip.New(s, clientip.RemoteAddr())
		require.NoError(t, err)
	} else {
		d.resolver, err = clientip.New()
		require.NoError(t, err)
	}
	d.mw, err = clientip.NewMiddleware(d.resolver, ipmask.Default, nil)
	require.NoError(t, err)
	if sink == nil {
		sink = d.stats
	}
	d.tracker, err = track.New(d.builder, d.store, sink, &track.Options{Resolver: d.resolver, Logger: d.log})
	require.NoError(t, err)
	return d
}

// held returns every click the store holds.
func (d *deployment) held(t *testing.T) []clickstore.Click {
	t.Helper()
	var out []clickstore.Click
	for c, err := range d.store.All(context.Background()) {
		require.NoError(t, err)
		out = append(out, c)
	}
	return out
}

// dumpHeld is every click the store holds printed in every way a
// developer would print it.
func (d *deployment) dumpHeld(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, c := range d.held(t) {
		fmt.Fprintf(&b, "%v %+v %#v %s %q\n", c, c, c, c, c)
		fmt.Fprintf(&b, "%s %s %s %s %s %s\n", c.Link, c.Referrer, c.Bot, c.Device, c.Country, c.Network)
		if c.RawAddr.IsValid() {
			fmt.Fprintf(&b, "raw %s\n", c.RawAddr)
		}
	}
	return b.String()
}

// textForms returns the ways a text can spell a, for searching a dump: the
// standard and expanded forms, dashes for dots and colons, the IPv4
// address's hex and decimal integer, its reversed quad (reverse DNS), and
// percent-encoded separators. Every one holds all of a's bits, so none may
// appear where the README promises no raw address.
func textForms(a netip.Addr) []string {
	a = a.Unmap().WithZone("")
	var out []string
	if a.Is4() {
		b := a.As4()
		n := binary.BigEndian.Uint32(b[:])
		out = append(out,
			a.String(),
			strings.ReplaceAll(a.String(), ".", "-"),
			strings.ReplaceAll(a.String(), ".", "%2E"),
			strings.ReplaceAll(a.String(), ".", "%2e"),
			strings.ReplaceAll(a.String(), ".", "%252E"),
			fmt.Sprintf("%d.%d.%d.%d", b[3], b[2], b[1], b[0]),
			fmt.Sprintf("%08x", n),
			fmt.Sprintf("%08X", n),
			fmt.Sprintf("%d", n),
			fmt.Sprintf("%03d%03d%03d%03d", b[0], b[1], b[2], b[3]),
		)
		return out
	}
	b := a.As16()
	out = append(out,
		a.String(),
		a.StringExpanded(),
		strings.ReplaceAll(a.String(), ":", "-"),
		strings.ReplaceAll(a.StringExpanded(), ":", "-"),
		strings.ReplaceAll(a.String(), ":", "%3A"),
		strings.ReplaceAll(a.String(), ":", "%3a"),
		fmt.Sprintf("%x", b[:]),
	)
	return out
}

// assertNoForm fails for every text form of each of addrs found in data,
// case-insensitively.
func assertNoForm(t *testing.T, data []byte, what string, addrs ...netip.Addr) bool {
	t.Helper()
	lower := bytes.ToLower(data)
	ok := true
	for _, a := range addrs {
		for _, f := range textForms(a) {
			if i := bytes.Index(lower, []byte(strings.ToLower(f))); i >= 0 {
				lo, hi := max(0, i-40), min(len(data), i+len(f)+40)
				ok = assert.Failf(t, "raw address in "+what, "%s written as %q at byte %d: …%q…", a, f, i, data[lo:hi])
			}
		}
	}
	return ok
}

// assertNoBinary fails if data holds the 4- or 16-byte form of any of
// addrs: a dump of a binary file (SQLite pages) could keep an address as
// bytes, which no text search finds.
func assertNoBinary(t *testing.T, data []byte, what string, addrs ...netip.Addr) bool {
	t.Helper()
	ok := true
	for _, a := range addrs {
		a = a.Unmap()
		var raw []byte
		if a.Is4() {
			b := a.As4()
			raw = b[:]
		} else {
			b := a.As16()
			raw = b[:]
		}
		if i := bytes.Index(data, raw); i >= 0 {
			ok = assert.Failf(t, "raw address bytes in "+what, "%s as bytes at offset %d", a, i)
		}
	}
	return ok
}
