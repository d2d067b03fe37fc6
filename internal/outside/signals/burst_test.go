package signals_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/internal/testlog"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/retention"
)

const browserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"

// errCanary names a server and a visitor, as a driver's error does.
var errCanary = errors.New("dial tcp 203.0.113.9:6379: connection reset by peer [2001:db8:1:2::7]:5555")

// toggle makes a part fail while it is set.
type toggle struct{ on atomic.Bool }

func (t *toggle) err() error {
	if t.on.Load() {
		return errCanary
	}
	return nil
}

type flakyStore struct {
	*clickstore.Memory
	t *toggle
}

func (s flakyStore) Record(ctx context.Context, c clickstore.Click) (bool, error) {
	if err := s.t.err(); err != nil {
		return false, err
	}
	return s.Memory.Record(ctx, c)
}

type flakySink struct {
	*aggregate.Rollup
	t *toggle
}

func (s flakySink) Add(ctx context.Context, c clickstore.Click, u clickstore.Uniqueness) error {
	if err := s.t.err(); err != nil {
		return err
	}
	return s.Rollup.Add(ctx, c, u)
}

type flakyTarget struct{ t *toggle }

func (f flakyTarget) Sweep(context.Context, time.Time) (retention.SweepStats, error) {
	return retention.SweepStats{Held: 1, Oldest: time.Second}, f.t.err()
}

// line is what a burst line says.
type line struct {
	level                string
	failures, suppressed uint64
}

// model is the documented rule: a burst's first failure is logged at
// once; a later one is logged when a minute or more has passed since the
// burst's last line, with the failures so far and those not logged since;
// the first success after a burst logs one recovery line with the
// burst's failures and those never logged.
type model struct {
	every         time.Duration // the least time between two lines; 0 means a minute
	failing       bool
	last          time.Time
	burst, quiet  uint64
	lines         []line
	failuresTotal uint64
}

func (m *model) fail(now time.Time) {
	m.failuresTotal++
	if !m.failing {
		m.failing, m.burst, m.quiet = true, 0, 0
		m.burst++
		m.last = now
		m.lines = append(m.lines, line{"WARN", m.burst, 0})
		return
	}
	m.burst++
	every := m.every
	if every == 0 {
		every = time.Minute
	}
	if now.Sub(m.last) >= every {
		m.lines = append(m.lines, line{"WARN", m.burst, m.quiet})
		m.last, m.quiet = now, 0
		return
	}
	m.quiet++
}

func (m *model) ok() {
	if m.failing {
		m.lines = append(m.lines, line{"INFO", m.burst, m.quiet})
		m.failing = false
	}
}

// edges are the steps of time between two operations: none, the least,
// just under, at and just over the minute, and between.
var edges = []time.Duration{0, time.Nanosecond, time.Minute - time.Nanosecond, time.Minute, time.Minute + time.Nanosecond, 20 * time.Second, 59 * time.Second}

// burstPart builds one part that can fail, on the bubble's clock (its
// default), logging JSON to buf.
func burstPart(t *testing.T, name string, buf *testlog.Buffer) (tg *toggle, op func(), failures func() uint64) {
	tg = &toggle{}
	log := slog.New(slog.NewJSONHandler(buf, nil))
	if name == "sweeper" {
		s, err := retention.NewSweeper(flakyTarget{tg}, &retention.SweeperOptions{Logger: log})
		require.NoError(t, err)
		return tg, func() { _, _ = s.SweepNow(context.Background()) }, s.Failures
	}
	kr, err := retention.NewKeyring(&retention.KeyringOptions{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = kr.Close() })
	b, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
	require.NoError(t, err)
	mem, err := clickstore.NewMemory(nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = mem.Close() })
	rollup, err := aggregate.New(nil)
	require.NoError(t, err)
	var store clickstore.Store = mem
	var sink clickstore.Sink = rollup
	if name == "store" {
		store = flakyStore{mem, tg}
	} else {
		sink = flakySink{rollup, tg}
	}
	tr, err := track.New(b, store, sink, &track.Options{Logger: log})
	require.NoError(t, err)
	n := 0
	op = func() {
		n++
		r := httptest.NewRequest("GET", "/c/l", nil)
		r.RemoteAddr = fmt.Sprintf("198.51.100.%d:1", n%250+1)
		r.Header.Set("User-Agent", browserUA)
		tr.Track(r, "l", clickstore.KindClick)
	}
	if name == "store" {
		return tg, op, func() uint64 { return tr.Stats().StoreFailures }
	}
	return tg, op, func() uint64 { return tr.Stats().SinkFailures }
}

// burstLines reads the lines of bursts (those with a failure count) from
// JSON log text.
func burstLines(t *testing.T, text string) []line {
	t.Helper()
	var out []line
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		f, ok := m["failures"].(float64)
		if !ok {
			continue
		}
		s, _ := m["suppressed"].(float64)
		out = append(out, line{m["level"].(string), uint64(f), uint64(s)})
	}
	return out
}

// TestBurstsAtTheEdges drives the tracker's store, the tracker's sink and
// a sweeper's target, each on its default clock inside a synctest
// bubble, through generated runs of failures and successes that
// alternate at the edges of the minute (steps of 0, 1 ns, a minute less
// 1 ns, a minute, a minute and 1 ns), and compares the burst lines
// written (level, failures, suppressed) with the rule the documentation
// gives, computed by a model; every failure is counted and no line holds
// a raw address. Checked to fail: the model with "> a minute" instead of
// ">=" disagrees (tried), and so does one whose recovery line is left out
// (tried).
func TestBurstsAtTheEdges(t *testing.T) {
	for _, name := range []string{"store", "sink", "sweeper"} {
		t.Run(name, func(t *testing.T) {
			for seed := range uint64(12) {
				synctest.Test(t, func(t *testing.T) {
					var buf testlog.Buffer
					tg, op, failures := burstPart(t, name, &buf)
					op() // warm
					base := failures()
					r := rand.New(rand.NewPCG(seed, 15))
					var m model
					for range 60 {
						time.Sleep(edges[r.IntN(len(edges))])
						fail := r.IntN(4) != 0
						tg.on.Store(fail)
						op()
						if fail {
							m.fail(time.Now())
						} else {
							m.ok()
						}
					}
					text := buf.String()
					assert.Equal(t, m.lines, burstLines(t, text), "seed %d", seed)
					assert.Equal(t, m.failuresTotal, failures()-base, "every failure counted")
					ipmasktest.AssertNoRawIP(t, ipmask.Default, text)
				})
			}
		})
	}
}

// countingKeys is a MemoryKeyStore that fails while its toggle is set and
// counts the calls it gets.
type countingKeys struct {
	*retention.MemoryKeyStore
	t     *toggle
	calls *atomic.Int64
}

func (k countingKeys) LoadOrCreate(ctx context.Context, e int64, c [32]byte, ttl time.Duration) ([32]byte, error) {
	k.calls.Add(1)
	if err := k.t.err(); err != nil {
		return [32]byte{}, err
	}
	return k.MemoryKeyStore.LoadOrCreate(ctx, e, c, ttl)
}

func (k countingKeys) Load(ctx context.Context, e int64) ([32]byte, bool, error) {
	k.calls.Add(1)
	if err := k.t.err(); err != nil {
		return [32]byte{}, false, err
	}
	return k.MemoryKeyStore.Load(ctx, e)
}

// keyEdges are steps around the keyring's retry second, the minute
// between lines and the epoch.
var keyEdges = []time.Duration{0, time.Nanosecond, time.Second - time.Nanosecond, time.Second, time.Minute - time.Nanosecond,
	time.Minute, time.Minute + time.Nanosecond, 7 * time.Minute, retention.DefaultWindow}

// TestKeyringBurstsAtTheEdges does for a keyring's key store what
// TestBurstsAtTheEdges does for the other parts. The keyring asks its
// store only when it holds no key for the epoch, or a while after a
// failure, so the model is fed the calls that reached the store: a Keys
// call that asked is a failure if it answered with ErrLocalKey, else a
// success. Steps fall around the retry, the minute and the epoch. Checked
// to fail: the model with "> a minute" disagrees (tried).
func TestKeyringBurstsAtTheEdges(t *testing.T) {
	for seed := range uint64(12) {
		synctest.Test(t, func(t *testing.T) {
			var buf testlog.Buffer
			tg := &toggle{}
			var calls atomic.Int64
			kr, err := retention.NewKeyring(&retention.KeyringOptions{
				Store:  countingKeys{retention.NewMemoryKeyStore(nil), tg, &calls},
				Logger: slog.New(slog.NewJSONHandler(&buf, nil)),
			})
			require.NoError(t, err)
			defer kr.Close()
			r := rand.New(rand.NewPCG(seed, 16))
			var m model
			for range 80 {
				time.Sleep(keyEdges[r.IntN(len(keyEdges))])
				tg.on.Store(r.IntN(3) != 0)
				before := calls.Load()
				now := time.Now()
				_, _, err := kr.Keys(context.Background(), now)
				if calls.Load() == before {
					continue
				}
				if errors.Is(err, retention.ErrLocalKey) {
					m.fail(now)
				} else {
					require.NoError(t, err)
					m.ok()
				}
			}
			text := buf.String()
			assert.Equal(t, m.lines, burstLines(t, text), "seed %d", seed)
			assert.Equal(t, m.failuresTotal, kr.Stats().Failures, "every failure counted")
			ipmasktest.AssertNoRawIP(t, ipmask.Default, text)
		})
	}
}
