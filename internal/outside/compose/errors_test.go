package compose_test

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/clickstore/geo"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/ipmask/logmask"
	"github.com/clickanon/clickanon/metrics"
	"github.com/clickanon/clickanon/retention"
)

// The canary addresses: a visitor's IPv4 and IPv6 address.
var (
	canary4 = netip.MustParseAddr("198.51.100.77")
	canary6 = netip.MustParseAddr("2001:db8:1:2::7")
)

// canaryForm is one textual form of a canary address, and the text an
// error must not hold if it were echoed (the form itself, and for the
// integer notations their digits without a 0x).
type canaryForm struct {
	name    string
	text    string
	needles []string
}

// canaryForms writes a in every textual form the brief names: plain,
// bracketed, with a port, with a zone, IPv4-mapped, percent-encoded, hex
// and as a decimal integer (what inet_aton and browsers read as an IPv4
// address, and what a big-integer column holds for IPv6).
func canaryForms(a netip.Addr) []canaryForm {
	s := a.String()
	b := a.AsSlice()
	hex := fmt.Sprintf("%x", b)
	dec := new(big.Int).SetBytes(b).String()
	pct := strings.NewReplacer(".", "%2E", ":", "%3A").Replace(s)
	port := netip.AddrPortFrom(a, 8080).String()
	out := []canaryForm{
		{"plain", s, []string{s}},
		{"bracketed", "[" + s + "]", []string{s}},
		{"port", port, []string{s}},
		{"zone", s + "%eth0", []string{s}},
		{"percent", pct, []string{pct, s}},
		{"hex", "0x" + hex, []string{hex}},
		{"decimal", dec, []string{dec}},
	}
	if a.Is4() {
		out = append(out, canaryForm{"mapped", "::ffff:" + s, []string{s}})
	} else {
		out = append(out, canaryForm{"expanded", a.StringExpanded(), []string{a.StringExpanded(), s}})
	}
	return out
}

// errEnv is what the drivers share: a deployment built as the README
// builds it, in memory and on Redis.
type errEnv struct {
	ctx      context.Context
	dir      string
	keyring  *retention.Keyring
	builder  *clickstore.Builder
	memory   *clickstore.Memory
	rollup   *aggregate.Rollup
	tracker  *track.Tracker
	resolver *clientip.Resolver
	metrics  *metrics.Metrics
	rdb      redis.UniversalClient
	rstore   *redisstore.Store
	rsink    *redisstore.Sink
	rkeys    *redisstore.KeyStore
	good     clickstore.Click
}

func newErrEnv(t *testing.T) *errEnv {
	t.Helper()
	e := &errEnv{ctx: context.Background(), dir: t.TempDir()}
	quiet := slog.New(slog.DiscardHandler)
	var err error
	srv := redistest.Start(t, nil)
	e.rdb = redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = e.rdb.Close() })
	e.rkeys, err = redisstore.NewKeyStore(e.rdb, nil)
	require.NoError(t, err)
	e.keyring, err = retention.NewKeyring(&retention.KeyringOptions{Store: e.rkeys, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.keyring.Close() })
	e.builder, err = clickstore.NewBuilder(ipmask.Default, e.keyring, nil)
	require.NoError(t, err)
	e.memory, err = clickstore.NewMemory(nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.memory.Close() })
	e.rollup, err = aggregate.New(nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.rollup.Close() })
	e.resolver, err = clientip.New()
	require.NoError(t, err)
	e.tracker, err = track.New(e.builder, e.memory, e.rollup, &track.Options{Logger: quiet})
	require.NoError(t, err)
	e.metrics, err = metrics.New(prometheus.NewRegistry(), nil)
	require.NoError(t, err)
	e.rstore, err = redisstore.New(e.ctx, e.rdb, &redisstore.Options{Keyring: e.keyring, KeyStore: e.rkeys})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.rstore.Close() })
	e.rsink, err = redisstore.NewSink(e.rdb, nil)
	require.NoError(t, err)
	e.good, err = e.builder.Build(e.ctx, canary4, "Mozilla/5.0", "spring", time.Now())
	require.NoError(t, err)
	return e
}

// driver drives one exported function into its error paths with s, a
// canary form, in every argument a client's or a caller's text can reach,
// and returns the errors it got (nil ones included). A driver of a
// function that passes on an error its caller's own code gave (a writer's,
// a wrapped handler's) returns those in passed: their text is the
// caller's, which here holds no address (only retention promises to mask
// the errors of what it calls, and its drivers put the canary in them), so
// they are held to "no address" alone, which catches the function adding
// its input to them. The errors of the canary's server (a store's
// client dialling it), and those retention makes of a callee's error
// holding the canary, are in passed too: retention and the storage
// packages cut every address logmask finds in them, and promise no more
// (internal/errmask), which the check of passed errors holds them to.
type driver func(t *testing.T, e *errEnv, s string) (errs, passed []error)

// failingWriter fails every write, with an error of its own.
type failingWriter struct{ s string }

func (w failingWriter) Write([]byte) (int, error) {
	return 0, errors.New("write: broken pipe")
}

// failingHandler is a slog.Handler that fails, with an error of its own.
type failingHandler struct{ s string }

func (failingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h failingHandler) Handle(context.Context, slog.Record) error {
	return errors.New("send: refused")
}
func (h failingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h failingHandler) WithGroup(string) slog.Handler      { return h }

// failingKeys is a KeyStore that fails with an error naming s.
type failingKeys struct{ s string }

func (k failingKeys) LoadOrCreate(context.Context, int64, [32]byte, time.Duration) ([32]byte, error) {
	return [32]byte{}, errors.New("dial tcp " + k.s + ":6379: refused")
}
func (k failingKeys) Load(context.Context, int64) ([32]byte, bool, error) {
	return [32]byte{}, false, errors.New("dial tcp " + k.s + ":6379: refused")
}

// failingSweep is a Sweepable that fails with an error naming s.
type failingSweep struct{ s string }

func (f failingSweep) Sweep(context.Context, time.Time) (retention.SweepStats, error) {
	return retention.SweepStats{}, errors.New("dial tcp " + f.s + ": refused")
}

// withText returns copies of c with s in each text field.
func withText(c clickstore.Click, s string) []clickstore.Click {
	var out []clickstore.Click
	for _, set := range []func(*clickstore.Click){
		func(c *clickstore.Click) { c.Link = s },
		func(c *clickstore.Click) { c.Referrer = s },
		func(c *clickstore.Click) { c.Bot = s },
		func(c *clickstore.Click) { c.Device = s },
		func(c *clickstore.Click) { c.Country = s },
		func(c *clickstore.Click) { c.Link = "x" + strings.Repeat(s, 300/len(s)+1) }, // too long
	} {
		d := c
		set(&d)
		out = append(out, d)
	}
	return out
}

func errs(es ...error) []error { return es }

// noText is the reason given for a function that takes no text a client
// or a caller's input can put an address in: it is driven into an error
// path all the same (a nil receiver, a nil context, a closed value), and
// that error is checked too.
func noText(f func(e *errEnv) []error) driver {
	return func(t *testing.T, e *errEnv, s string) ([]error, []error) { return f(e), nil }
}

//nolint:staticcheck // a nil context is one of the error paths
var nilCtx context.Context

// drivers has one entry per exported function and method that returns an
// error, named as go/doc lists them ("pkg/path Type.Method").
var drivers = map[string]driver{
	// ipmask
	"ipmask ParseAddr": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, err := ipmask.ParseAddr(s + "x")
		_, err2 := ipmask.ParseAddr(s)
		return errs(err, err2), nil
	},
	"ipmask New": noText(func(*errEnv) []error { _, err := ipmask.New(-1, 200); return errs(err) }),
	"ipmask Policy.AppendMask": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, err := ipmask.Default.AppendMask(nil, []byte(s))
		_, err2 := ipmask.Default.AppendMask(nil, []byte(s+"%"))
		return errs(err, err2), nil
	},
	"ipmask Policy.MaskString": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, err := ipmask.Default.MaskString(s)
		_, err2 := ipmask.Default.MaskString("x" + s)
		return errs(err, err2), nil
	},

	// clientip
	"ipmask/clientip KeyFunc": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = s
		_, err := clientip.KeyFunc(r)
		return errs(err), nil
	},
	"ipmask/clientip NewMiddleware": noText(func(*errEnv) []error {
		_, err := clientip.NewMiddleware(nil, ipmask.Default, &clientip.MiddlewareOptions{OnFailure: 99})
		return errs(err)
	}),
	"ipmask/clientip New": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		tr, _ := clientip.NewTrusted("10.0.0.0/8")
		_, err := clientip.New(clientip.SingleHeader(tr, s))
		_, err2 := clientip.New(clientip.SingleHeader(tr, "X-"+s))
		_, err3 := clientip.New(clientip.RemoteAddr(), clientip.SingleHeader(tr, "X-Real-Ip"))
		return errs(err, err2, err3), nil
	},
	"ipmask/clientip Resolver.Resolve": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		return resolveErrs(s, func(r *clientip.Resolver, h http.Header, remote string) error {
			_, err := r.Resolve(h, remote)
			return err
		}), nil
	},
	"ipmask/clientip Resolver.ResolveRequest": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		return resolveErrs(s, func(r *clientip.Resolver, h http.Header, remote string) error {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header, req.RemoteAddr = h, remote
			_, err := r.ResolveRequest(req)
			return err
		}), nil
	},
	"ipmask/clientip NewTrusted": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, err := clientip.NewTrusted("10.0.0.0/8", s+"/33")
		_, err2 := clientip.NewTrusted(s + "/8")
		_, err3 := clientip.NewTrusted("x" + s)
		return errs(err, err2, err3), nil
	},
	"ipmask/clientip NewTrustedPrefixes": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		var out []error
		if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
			_, err := clientip.NewTrustedPrefixes(netip.PrefixFrom(a, 0), netip.PrefixFrom(a, 8))
			out = append(out, err)
		}
		_, err := clientip.NewTrustedPrefixes(netip.Prefix{})
		return append(out, err), nil
	},
	"ipmask/clientip Trusted.Update": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		tr, _ := clientip.NewTrusted()
		var nilTr *clientip.Trusted
		return errs(tr.Update("10.0.0.0/8", s+"/7"), tr.Update("x"+s), nilTr.Update(s)), nil
	},

	// logmask
	"ipmask/logmask Copy": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, err := logmask.Copy(io.Discard, strings.NewReader(s), ipmask.Default, &logmask.Options{Fields: []int{1}, Placeholder: s})
		_, passed := logmask.Copy(failingWriter{s}, strings.NewReader(s+"\n"), ipmask.Default, nil)
		return errs(err), errs(passed)
	},
	"ipmask/logmask NewHandler": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, err := logmask.NewHandler(nil, ipmask.Default, nil)
		return errs(err), nil
	},
	"ipmask/logmask Handler.Handle": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		h, err := logmask.NewHandler(failingHandler{s}, ipmask.Default, nil)
		require.NoError(t, err)
		r := slog.NewRecord(time.Now(), slog.LevelInfo, "peer "+s, 0)
		return nil, errs(h.Handle(e.ctx, r))
	},
	"ipmask/logmask NewMasker": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, err := logmask.NewMasker(ipmask.Default, &logmask.Options{Fields: []int{1}, Placeholder: s})
		_, err2 := logmask.NewMasker(ipmask.Default, &logmask.Options{Fields: []int{1}, Placeholder: s + "\n"})
		return errs(err, err2), nil
	},
	"ipmask/logmask NewWriter": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, err := logmask.NewWriter(io.Discard, ipmask.Default, &logmask.Options{Fields: []int{1}, Placeholder: s})
		_, err2 := logmask.NewWriter(nil, ipmask.Default, nil)
		return errs(err, err2), nil
	},
	"ipmask/logmask Writer.Write": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		w, err := logmask.NewWriter(failingWriter{s}, ipmask.Default, nil)
		require.NoError(t, err)
		_, passed := w.Write([]byte(s + "\n"))
		w2, err := logmask.NewWriter(io.Discard, ipmask.Default, nil)
		require.NoError(t, err)
		require.NoError(t, w2.Close())
		_, err = w2.Write([]byte(s + "\n"))
		return errs(err), errs(passed)
	},
	"ipmask/logmask Writer.Close": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		w, err := logmask.NewWriter(failingWriter{s}, ipmask.Default, nil)
		require.NoError(t, err)
		_, _ = w.Write([]byte(s))
		return nil, errs(w.Close())
	},

	// clickstore
	"clickstore NewBuilder": noText(func(*errEnv) []error { _, err := clickstore.NewBuilder(ipmask.Default, nil, nil); return errs(err) }),
	"clickstore Builder.Build": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, err := e.builder.Build(e.ctx, canary4, s, strings.Repeat(s, 300/len(s)+1), time.Now())
		_, err2 := e.builder.Build(nilCtx, canary6, s, s, time.Time{})
		_, err3 := e.builder.Build(e.ctx, canary4, s, "", time.Now())
		return errs(err, err2, err3), nil
	},
	"clickstore Builder.BuildDigest": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, err := e.builder.BuildDigest(e.ctx, canary4, clickstore.DigestAgent(s), strings.Repeat(s, 300/len(s)+1), time.Now())
		_, err2 := e.builder.BuildDigest(e.ctx, canary4, clickstore.AgentDigest{}, s, time.Now())
		return errs(err, err2), nil
	},
	"clickstore Builder.Pseudonyms": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, _, err := e.builder.Pseudonyms(nilCtx, canary4, s, time.Now())
		_, _, err2 := e.builder.Pseudonyms(e.ctx, netip.Addr{}, s, time.Now())
		return errs(err, err2), nil
	},
	"clickstore Click.MarshalJSON": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		var out []error
		for _, c := range withText(e.good, s) {
			_, err := c.MarshalJSON()
			out = append(out, err)
		}
		return out, nil
	},
	"clickstore Click.Validate": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		var out []error
		for _, c := range withText(e.good, s) {
			out = append(out, c.Validate())
		}
		return out, nil
	},
	"clickstore NewMemory": noText(func(*errEnv) []error {
		_, err := clickstore.NewMemory(&clickstore.MemoryOptions{Capacity: -1})
		return errs(err)
	}),
	"clickstore Memory.Close": noText(func(*errEnv) []error { return errs((*clickstore.Memory)(nil).Close()) }),
	"clickstore Memory.EraseLink": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, err := e.memory.EraseLink(e.ctx, s)
		_, err2 := e.memory.EraseLink(nilCtx, s)
		return errs(err, err2), nil
	},
	"clickstore Memory.EraseVisitor": noText(func(e *errEnv) []error {
		_, err := e.memory.EraseVisitor(nilCtx, clickstore.Pseudonym{})
		return errs(err)
	}),
	"clickstore Memory.Latest": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, _, err := e.memory.Latest(e.ctx, e.good.Visitor, e.good.PrevVisitor, s)
		_, _, err2 := e.memory.Latest(nilCtx, e.good.Visitor, e.good.PrevVisitor, s)
		return errs(err, err2), nil
	},
	"clickstore Memory.Record": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		var out []error
		for _, c := range withText(e.good, s) {
			_, err := e.memory.Record(e.ctx, c)
			out = append(out, err)
		}
		return out, nil
	},
	"clickstore Memory.Sweep": noText(func(e *errEnv) []error { _, err := e.memory.Sweep(nilCtx, time.Now()); return errs(err) }),
	"clickstore ParsePseudonym": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, err := clickstore.ParsePseudonym(s)
		_, err2 := clickstore.ParsePseudonym(fmt.Sprintf("%-32s", s)[:32])
		return errs(err, err2), nil
	},
	"clickstore Pseudonym.AppendText": noText(func(*errEnv) []error {
		_, err := clickstore.Pseudonym{}.AppendText(nil)
		return errs(err)
	}),
	"clickstore Pseudonym.MarshalText": noText(func(*errEnv) []error {
		_, err := clickstore.Pseudonym{}.MarshalText()
		return errs(err)
	}),
	"clickstore Pseudonym.UnmarshalText": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		var p clickstore.Pseudonym
		return errs(p.UnmarshalText([]byte(s))), nil
	},

	// aggregate
	"clickstore/aggregate NetworkPolicy": noText(func(*errEnv) []error {
		p, _ := ipmask.New(32, 128)
		_, err := aggregate.NetworkPolicy(p)
		return errs(err)
	}),
	"clickstore/aggregate WriteCSV": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		rep := aggregate.Report{Query: aggregate.Query{Link: s}}
		return nil, errs(aggregate.WriteCSV(failingWriter{s}, rep))
	},
	"clickstore/aggregate WriteJSON": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		rep := aggregate.Report{Query: aggregate.Query{Link: s}}
		return nil, errs(aggregate.WriteJSON(failingWriter{s}, rep))
	},
	"clickstore/aggregate Query.Normalize": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		return queryErrs(s, func(q aggregate.Query) error { _, err := q.Normalize(); return err }), nil
	},
	"clickstore/aggregate Publish": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		return queryErrs(s, func(q aggregate.Query) error { _, err := aggregate.Publish(e.ctx, e.rollup, q); return err }), nil
	},
	"clickstore/aggregate New": noText(func(*errEnv) []error { _, err := aggregate.New(&aggregate.Options{MaxValues: -1}); return errs(err) }),
	"clickstore/aggregate Rollup.Add": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		var out []error
		for _, c := range withText(e.good, s) {
			out = append(out, e.rollup.Add(e.ctx, c, clickstore.Unique))
		}
		return out, nil
	},
	"clickstore/aggregate Rollup.Cells": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		return queryErrs(s, func(q aggregate.Query) error { _, err := e.rollup.Cells(e.ctx, q); return err }), nil
	},
	"clickstore/aggregate Rollup.Close": noText(func(*errEnv) []error { return errs((*aggregate.Rollup)(nil).Close()) }),
	"clickstore/aggregate Rollup.EraseLink": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, err := e.rollup.EraseLink(e.ctx, s)
		_, err2 := e.rollup.EraseLink(nilCtx, s)
		return errs(err, err2), nil
	},
	"clickstore/aggregate Rollup.Merge": noText(func(e *errEnv) []error {
		other, _ := aggregate.New(&aggregate.Options{NoMinute: true})
		return errs(e.rollup.Merge(nil), e.rollup.Merge(other))
	}),
	"clickstore/aggregate Rollup.Report": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		return queryErrs(s, func(q aggregate.Query) error { _, err := e.rollup.Report(e.ctx, q); return err }), nil
	},
	"clickstore/aggregate Rollup.Sweep": noText(func(e *errEnv) []error { _, err := e.rollup.Sweep(nilCtx, time.Now()); return errs(err) }),

	// sqlsink: SQLite paths and PostgreSQL data sources holding the canary.
	// The server's host and database are the operator's, not a visitor's: the README
	// lets the linktracker's start-up line name it, and the storage
	// packages' errors cut every IP address in it ("dial tcp
	// 0.0.0.0:6379"); a host in another notation is a name to the Go
	// resolver, which says it found none ("lookup 3325256781: no such
	// host"), so those errors are held to "no address" alone.
	"clickstore/aggregate/sqlsink Open": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		open := func(dsn string) error {
			ctx, cancel := context.WithTimeout(e.ctx, 300*time.Millisecond)
			defer cancel()
			sink, err := sqlsink.Open(ctx, dsn, &sqlsink.Options{Logger: slog.New(slog.DiscardHandler)})
			if err == nil {
				_ = sink.Close(e.ctx)
			}
			return err
		}
		var out, servers []error
		for _, dsn := range []string{
			"sqlite:" + filepath.Join(e.dir, url.PathEscape(s), "stats.db"),
			s,
		} {
			out = append(out, open(dsn))
		}
		for _, dsn := range []string{
			"postgres://u:p@" + s + "/db?connect_timeout=1",
			"postgres://u:p@" + s + ":1/db?connect_timeout=1",
			"postgres://u:p@127.0.0.1:1/" + url.PathEscape(s) + "?connect_timeout=1",
			"postgres://u:p@127.0.0.1:1/db?connect_timeout=1&application_name=" + url.QueryEscape(s),
		} {
			servers = append(servers, open(dsn))
		}
		return out, servers
	},
	"clickstore/aggregate/sqlsink New": noText(func(e *errEnv) []error {
		_, err := sqlsink.New(e.ctx, nil, sqlsink.SQLite, nil)
		return errs(err)
	}),
	"clickstore/aggregate/sqlsink Sink.Add": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		sink := openSQLite(t, e)
		var out []error
		for _, c := range withText(e.good, s) {
			out = append(out, sink.Add(e.ctx, c, clickstore.Unique))
		}
		return out, nil
	},
	"clickstore/aggregate/sqlsink Sink.Cells": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		sink := openSQLite(t, e)
		return queryErrs(s, func(q aggregate.Query) error { _, err := sink.Cells(e.ctx, q); return err }), nil
	},
	"clickstore/aggregate/sqlsink Sink.Close": noText(func(e *errEnv) []error { return errs((*sqlsink.Sink)(nil).Close(e.ctx)) }),
	"clickstore/aggregate/sqlsink Sink.EraseLink": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		sink := openSQLite(t, e)
		_, err := sink.EraseLink(e.ctx, s)
		_, err2 := sink.EraseLink(nilCtx, s)
		return errs(err, err2), nil
	},
	"clickstore/aggregate/sqlsink Sink.Flush": noText(func(e *errEnv) []error { return errs((*sqlsink.Sink)(nil).Flush(e.ctx)) }),
	"clickstore/aggregate/sqlsink Sink.Sweep": noText(func(e *errEnv) []error {
		_, err := (*sqlsink.Sink)(nil).Sweep(e.ctx, time.Now())
		return errs(err)
	}),

	// clickstoretest's OutageKeyStore fails with the error its test gives it.
	"clickstore/clickstoretest OutageKeyStore.Close":        noText(func(*errEnv) []error { return nil }),
	"clickstore/clickstoretest OutageKeyStore.Load":         noText(func(*errEnv) []error { return nil }),
	"clickstore/clickstoretest OutageKeyStore.LoadOrCreate": noText(func(*errEnv) []error { return nil }),

	// geo
	"clickstore/geo Open": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		quiet := &geo.Options{Logger: slog.New(slog.DiscardHandler)}
		_, err := geo.Open(filepath.Join(e.dir, url.PathEscape(s), "GeoLite2-Country.mmdb"), quiet)
		junk := filepath.Join(e.dir, "junk-"+url.PathEscape(s)+".mmdb")
		require.NoError(t, os.WriteFile(junk, []byte(s+strings.Repeat("\x00", 64)+s), 0o600))
		_, err2 := geo.Open(junk, quiet)
		return errs(err, err2), nil
	},
	"clickstore/geo DB.Close":  noText(func(*errEnv) []error { return errs((*geo.DB)(nil).Close()) }),
	"clickstore/geo DB.Reload": noText(func(*errEnv) []error { return errs((*geo.DB)(nil).Reload()) }),

	// redisstore
	"clickstore/redisstore NewKeyStore": noText(func(*errEnv) []error { _, err := redisstore.NewKeyStore(nil, nil); return errs(err) }),
	// A server named by the canary: as sqlsink Open.
	"clickstore/redisstore KeyStore.Load": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, _, server := unreachableKeys(t, s).Load(e.ctx, 1)
		_, _, err := e.rkeys.Load(nilCtx, 1)
		return errs(err), errs(server)
	},
	"clickstore/redisstore KeyStore.LoadOrCreate": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, server := unreachableKeys(t, s).LoadOrCreate(e.ctx, 1, [32]byte{1}, time.Minute)
		_, err := e.rkeys.LoadOrCreate(e.ctx, 1, [32]byte{}, -time.Minute)
		return errs(err), errs(server)
	},
	"clickstore/redisstore NewSink": noText(func(*errEnv) []error { _, err := redisstore.NewSink(nil, nil); return errs(err) }),
	"clickstore/redisstore Sink.Add": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		var out []error
		for _, c := range withText(e.good, s) {
			out = append(out, e.rsink.Add(e.ctx, c, clickstore.Unique))
		}
		return out, nil
	},
	"clickstore/redisstore Sink.Cells": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		return queryErrs(s, func(q aggregate.Query) error { _, err := e.rsink.Cells(e.ctx, q); return err }), nil
	},
	"clickstore/redisstore Sink.EraseLink": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, err := e.rsink.EraseLink(e.ctx, s)
		_, err2 := e.rsink.EraseLink(nilCtx, s)
		return errs(err, err2), nil
	},
	"clickstore/redisstore New": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		c := unreachableClient(t, s)
		ctx, cancel := context.WithTimeout(e.ctx, 300*time.Millisecond)
		defer cancel()
		_, server := redisstore.New(ctx, c, nil)
		_, err := redisstore.New(e.ctx, e.rdb, &redisstore.Options{Prefix: "{" + s + "}"})
		return errs(err), errs(server)
	},
	"clickstore/redisstore Store.Clear": noText(func(e *errEnv) []error { _, err := e.rstore.Clear(nilCtx); return errs(err) }),
	"clickstore/redisstore Store.Close": noText(func(*errEnv) []error { return errs((*redisstore.Store)(nil).Close()) }),
	"clickstore/redisstore Store.EraseLink": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, err := e.rstore.EraseLink(e.ctx, s)
		_, err2 := e.rstore.EraseLink(nilCtx, s)
		return errs(err, err2), nil
	},
	"clickstore/redisstore Store.EraseVisitor": noText(func(e *errEnv) []error {
		_, err := e.rstore.EraseVisitor(nilCtx, clickstore.Pseudonym{})
		return errs(err)
	}),
	"clickstore/redisstore Store.Flush": noText(func(e *errEnv) []error { return errs(e.rstore.Flush(nilCtx)) }),
	"clickstore/redisstore Store.Latest": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, _, err := e.rstore.Latest(e.ctx, e.good.Visitor, e.good.PrevVisitor, s)
		_, _, err2 := e.rstore.Latest(e.ctx, e.good.Visitor, e.good.PrevVisitor, strings.Repeat(s, 300/len(s)+1))
		return errs(err, err2), nil
	},
	"clickstore/redisstore Store.Record": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		var out []error
		for _, c := range withText(e.good, s) {
			_, err := e.rstore.Record(e.ctx, c)
			out = append(out, err)
		}
		return out, nil
	},
	"clickstore/redisstore Store.RecordBatch": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, err := e.rstore.RecordBatch(e.ctx, withText(e.good, s))
		return errs(err), nil
	},
	"clickstore/redisstore Store.Sweep": noText(func(e *errEnv) []error { _, err := e.rstore.Sweep(nilCtx, time.Now()); return errs(err) }),

	// track
	"clickstore/track New": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		var out []error
		for _, o := range []*track.Options{{PathValue: s}, {OptOutHeader: s}, {OptOutParam: s + "\x00"}, {NetworkQuota: -1}} {
			_, err := track.New(e.builder, e.memory, e.rollup, o)
			out = append(out, err)
		}
		return out, nil
	},
	"clickstore/track Tracker.Middleware": noText(func(e *errEnv) []error {
		_, err := e.tracker.Middleware(nil)
		return errs(err)
	}),

	// metrics
	"metrics New": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, err := metrics.New(prometheus.NewRegistry(), &metrics.Options{Namespace: s})
		_, err2 := metrics.New(nil, nil)
		return errs(err, err2), nil
	},
	"metrics Metrics.Keyring": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		return errs(e.metrics.Keyring(s, e.keyring), e.metrics.Keyring("k", nil)), nil
	},
	"metrics Metrics.Resolver": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		return errs(e.metrics.Resolver(s, e.resolver)), nil
	},
	"metrics Metrics.Sink": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		return errs(e.metrics.Sink(s, func() metrics.SinkStats { return metrics.SinkStats{} })), nil
	},
	"metrics Metrics.Store": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		return errs(e.metrics.Store(s, func() metrics.StoreStats { return metrics.StoreStats{} })), nil
	},
	"metrics Metrics.Sweep": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, err := e.metrics.Sweep(s, e.memory)
		sw, err2 := e.metrics.Sweep("compose", failingSweep{"redis"})
		var passed error
		if err2 == nil {
			_, passed = sw.Sweep(e.ctx, time.Now())
		}
		return errs(err, err2), errs(passed)
	},
	"metrics Metrics.Tracker": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		return errs(e.metrics.Tracker(s, e.tracker)), nil
	},

	// retention: errors of what it calls carry the canary.
	"retention Group.Sweep": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, callee := retention.Group{failingSweep{s}, e.memory}.Sweep(e.ctx, time.Now())
		_, err := retention.Group{e.memory}.Sweep(nilCtx, time.Now())
		return errs(err), errs(callee)
	},
	"retention NewKeyring": noText(func(*errEnv) []error {
		_, err := retention.NewKeyring(&retention.KeyringOptions{Rand: strings.NewReader("")})
		return errs(err)
	}),
	"retention Keyring.Close": noText(func(*errEnv) []error { return errs((*retention.Keyring)(nil).Close()) }),
	"retention Keyring.Keys": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		kr, err := retention.NewKeyring(&retention.KeyringOptions{Store: failingKeys{s}, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		defer kr.Close()
		_, _, callee := kr.Keys(e.ctx, time.Now())
		kr2, err2 := retention.NewKeyring(&retention.KeyringOptions{Rand: strings.NewReader(s), Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err2)
		defer kr2.Close()
		_, _, err2 = kr2.Keys(e.ctx, time.Now())
		return errs(err2), errs(callee)
	},
	"retention Keyring.Sweep": noText(func(*errEnv) []error {
		_, err := (*retention.Keyring)(nil).Sweep(context.Background(), time.Now())
		return errs(err)
	}),
	"retention MemoryKeyStore.Close": noText(func(*errEnv) []error { return errs((*retention.MemoryKeyStore)(nil).Close()) }),
	"retention MemoryKeyStore.Load": noText(func(*errEnv) []error {
		_, _, err := retention.NewMemoryKeyStore(nil).Load(nilCtx, 1)
		return errs(err)
	}),
	"retention MemoryKeyStore.LoadOrCreate": noText(func(*errEnv) []error {
		_, err := retention.NewMemoryKeyStore(nil).LoadOrCreate(context.Background(), 1, [32]byte{}, 0)
		return errs(err)
	}),
	"retention MemoryKeyStore.Sweep": noText(func(*errEnv) []error {
		_, err := (*retention.MemoryKeyStore)(nil).Sweep(context.Background(), time.Now())
		return errs(err)
	}),
	"retention NewPolicy":  noText(func(*errEnv) []error { _, err := retention.NewPolicy(-1, nil); return errs(err) }),
	"retention NewSweeper": noText(func(*errEnv) []error { _, err := retention.NewSweeper(nil, nil); return errs(err) }),
	"retention Sweeper.Last": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		sw := failingSweeper(t, s)
		_, _ = sw.SweepNow(e.ctx)
		_, _, callee := sw.Last()
		return nil, errs(callee)
	},
	"retention Sweeper.Run": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		return errs((*retention.Sweeper)(nil).Run(e.ctx)), nil
	},
	"retention Sweeper.SweepNow": func(t *testing.T, e *errEnv, s string) ([]error, []error) {
		_, callee := failingSweeper(t, s).SweepNow(e.ctx)
		_, err := failingSweeper(t, s).SweepNow(nilCtx)
		return errs(err), errs(callee)
	},
}

func failingSweeper(t *testing.T, s string) *retention.Sweeper {
	t.Helper()
	sw, err := retention.NewSweeper(failingSweep{s}, &retention.SweeperOptions{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	return sw
}

// resolveErrs resolves headers and RemoteAddrs holding s with every
// strategy, from a trusted peer and from s as the peer.
func resolveErrs(s string, resolve func(*clientip.Resolver, http.Header, string) error) []error {
	tr, _ := clientip.NewTrusted("10.0.0.0/8")
	var out []error
	for _, st := range []clientip.Strategy{clientip.RightmostUntrusted(tr), clientip.TrustedHops(tr, 2), clientip.Forwarded(tr),
		clientip.SingleHeader(tr, "X-Real-Ip"), clientip.SingleHeader(tr, "Cloudfront-Viewer-Address"), clientip.RemoteAddr()} {
		r, _ := clientip.New(st)
		for _, v := range []string{s, s + "x", "for=" + s, `for="` + s + `"`, s + ", 10.0.0.2", "10.0.0.3, " + s + "0"} {
			h := http.Header{}
			for _, k := range []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip", "Cloudfront-Viewer-Address"} {
				h[k] = []string{v}
			}
			out = append(out, resolve(r, h, "10.0.0.1:80"), resolve(r, h, s), resolve(r, h, "x"+s+":1"))
		}
	}
	return out
}

// queryErrs runs q with the canary in its link, alone and too long, and
// in an invalid range.
func queryErrs(s string, run func(aggregate.Query) error) []error {
	now := time.Now()
	return errs(
		run(aggregate.Query{Link: s, From: now.Add(-time.Hour), To: now}),
		run(aggregate.Query{Link: strings.Repeat(s, 300/len(s)+1), From: now.Add(-time.Hour), To: now}),
		run(aggregate.Query{Link: s, From: now, To: now.Add(-time.Hour)}),
	)
}

func openSQLite(t *testing.T, e *errEnv) *sqlsink.Sink {
	t.Helper()
	sink, err := sqlsink.Open(e.ctx, "sqlite:"+filepath.Join(t.TempDir(), "s.db"), &sqlsink.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sink.Close(e.ctx) })
	return sink
}

// unreachableClient is a go-redis client whose server address is the
// canary form (a documentation range: nothing answers), failing fast.
func unreachableClient(t *testing.T, s string) *redis.Client {
	t.Helper()
	addr := s
	if !strings.Contains(s, ":") || strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "[") {
		addr = s + ":6379"
		if strings.Count(s, ":") > 0 {
			addr = "[" + s + "]:6379"
		}
	}
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 50 * time.Millisecond, DialerRetries: 1, MaxRetries: -1, ReadTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func unreachableKeys(t *testing.T, s string) *redisstore.KeyStore {
	t.Helper()
	k, err := redisstore.NewKeyStore(unreachableClient(t, s), nil)
	require.NoError(t, err)
	return k
}

// exportedErrFuncs lists, with go/doc, every exported function and method
// of the module's public packages (not internal/, examples/ or bench/)
// whose results include an error, as "pkg/path Name" or "pkg/path
// Type.Method".
func exportedErrFuncs(t *testing.T) []string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	require.FileExists(t, filepath.Join(root, "go.mod"))
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		base := d.Name()
		if rel != "." && (strings.HasPrefix(base, ".") || base == "internal" || base == "testdata" || base == "examples" || base == "bench" || base == "scripts") {
			return filepath.SkipDir
		}
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, p, func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
		if err != nil {
			return err
		}
		for _, pk := range pkgs {
			dp := doc.New(pk, rel, 0)
			add := func(name string, ft *ast.FuncType) {
				if ft.Results == nil {
					return
				}
				for _, f := range ft.Results.List {
					if strings.Contains(types.ExprString(f.Type), "error") {
						out = append(out, rel+" "+name)
						return
					}
				}
			}
			for _, f := range dp.Funcs {
				add(f.Name, f.Decl.Type)
			}
			for _, ty := range dp.Types {
				for _, f := range ty.Funcs {
					add(f.Name, f.Decl.Type)
				}
				for _, f := range ty.Methods {
					add(ty.Name+"."+f.Name, f.Decl.Type)
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	slices.Sort(out)
	return out
}

// notDriven are the functions returning an error that take no input at
// all from which an error could be made (they report to a testing.TB, or
// return iterators whose errors are those of the store's own reads).
var notDriven = map[string]string{
	"clickstore Memory.All":                         "iterates what the store holds; its errors are a nil context's or a closed store's, as EraseVisitor's",
	"clickstore/redisstore Store.All":               "iterates what the store holds; as Store.Latest",
	"clickstore UniquenessOf":                       "takes an error, returns none",
	"clickstore/clickstoretest OutageKeyStore.Down": "takes the error its test gives it, returns none",
}

// TestEveryExportedErrorHoldsNoCanary lists every exported function and
// method of every public package that returns an error (go/doc, so that a
// new one without a driver fails the test), drives each into its error
// paths with a canary address (IPv4 and IPv6) in every textual form, and
// checks every error: it starts with its package's name, holds no address
// ipmask.Default does not mask (ipmasktest.AssertNoRawIPError, also
// printed with %+v, %#v and %q), and does not echo the canary in the form it was given (hex and
// decimal integers included, which logmask does not read as addresses but
// inet_aton and a browser do). An error made from the caller's own
// error (a failing writer's, a wrapped handler's, a Sweepable's) is held
// to the second rule only. Checked to fail: see TestErrorCheckHasTeeth,
// and a driver removed from the table fails the listing check.
func TestEveryExportedErrorHoldsNoCanary(t *testing.T) {
	listed := exportedErrFuncs(t)
	require.Greater(t, len(listed), 90, "go/doc found too few functions: %v", listed)
	for _, name := range listed {
		_, driven := drivers[name]
		_, skipped := notDriven[name]
		assert.True(t, driven || skipped, "%s returns an error and has no driver", name)
	}
	for name := range drivers {
		assert.Contains(t, listed, name, "a driver for a function go/doc does not list")
	}
	e := newErrEnv(t)
	for _, a := range []netip.Addr{canary4, canary6} {
		for _, form := range canaryForms(a) {
			t.Run(a.String()+"/"+form.name, func(t *testing.T) {
				for _, name := range listed {
					d, ok := drivers[name]
					if !ok {
						continue
					}
					pkg := name[:strings.IndexByte(name, ' ')]
					pkg = pkg[strings.LastIndexByte(pkg, '/')+1:]
					got, passed := d(t, e, form.text)
					for _, err := range got {
						checkErr(t, pkg, name, form, err, false)
					}
					for _, err := range passed {
						checkErr(t, pkg, name, form, err, true)
					}
				}
			})
		}
	}
}

// checkErr holds err to the rules above.
func checkErr(t *testing.T, pkg, call string, form canaryForm, err error, callers bool) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	printed := []string{msg, fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), fmt.Sprintf("%q", err)}
	for _, text := range printed {
		ipmasktest.AssertNoRawIPError(t, ipmask.Default, errors.New(text), call)
	}
	if callers {
		return
	}
	ok := strings.HasPrefix(msg, pkg+": ")
	assert.True(t, ok, "%s: error does not start with %q: %.300q", call, pkg, msg)
	for _, text := range printed {
		lower := strings.ToLower(text)
		for _, n := range form.needles {
			assert.NotContains(t, lower, strings.ToLower(n), "%s: the error echoes its input: %.300q", call, text)
		}
	}
}

// TestErrorCheckHasTeeth shows checkErr catching an error that echoes a
// canary in each form, and one that does not start with its package.
func TestErrorCheckHasTeeth(t *testing.T) {
	for _, a := range []netip.Addr{canary4, canary6} {
		for _, form := range canaryForms(a) {
			ft := &testing.T{}
			checkErr(ft, "clientip", "echo", form, fmt.Errorf("clientip: bad entry %s", form.text), false)
			assert.True(t, ft.Failed(), form.name)
			ft = &testing.T{}
			checkErr(ft, "clientip", "prefix", form, errors.New("bad entry"), false)
			assert.True(t, ft.Failed(), form.name)
			ft = &testing.T{}
			checkErr(ft, "clientip", "clean", form, errors.New("clientip: X-Forwarded-For entry 1 from the right: 14 bytes, not an address"), false)
			assert.False(t, ft.Failed(), form.name)
		}
	}
}

// TestSQLSinkCellsErrorsNameSQLSink checks the house rule that an error
// starts with its package's name for sqlsink.Sink.Cells, whose refusal
// of a bad query comes from aggregate.Query.Normalize as it is
// ("aggregate: query range: From is not before To"), while
// redisstore.Sink.Cells and every other sqlsink method name their own
// package. Checked to fail: it failed before sqlsink wrapped the error.
func TestSQLSinkCellsErrorsNameSQLSink(t *testing.T) {
	e := &errEnv{ctx: context.Background()}
	sink := openSQLite(t, e)
	errs := queryErrs(canary4.String(), func(q aggregate.Query) error { _, err := sink.Cells(e.ctx, q); return err })
	// The first query is valid (a link is looked up, whatever it spells);
	// the others are too long and backwards.
	require.NoError(t, errs[0])
	for _, err := range errs[1:] {
		require.Error(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), "sqlsink: "), "%q", err)
	}
}
