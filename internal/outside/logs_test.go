package outside_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/retention"
)

// addrErr is an error whose text holds the address a, as a dial or a
// driver error does.
func addrErr(a netip.Addr) error {
	return fmt.Errorf("dial tcp %s: connect: connection refused (peer %s)", netip.AddrPortFrom(a, 6379), a.StringExpanded())
}

// failingStore is a clickstore.Store whose Record and Latest fail with an
// error holding an address; the rest is a Memory's.
type failingStore struct {
	*clickstore.Memory
	a netip.Addr
}

func (s failingStore) Record(context.Context, clickstore.Click) (bool, error) {
	return false, addrErr(s.a)
}
func (s failingStore) Latest(context.Context, clickstore.Pseudonym, clickstore.Pseudonym, string) (clickstore.Click, bool, error) {
	return clickstore.Click{}, false, addrErr(s.a)
}

// failingSink fails every Add with an error holding an address.
type failingSink struct{ a netip.Addr }

func (s failingSink) Add(context.Context, clickstore.Click, clickstore.Uniqueness) error {
	return addrErr(s.a)
}

// failingKeys is a KeyStore that fails with an error holding an address.
type failingKeys struct{ a netip.Addr }

func (k failingKeys) LoadOrCreate(context.Context, int64, [32]byte, time.Duration) ([32]byte, error) {
	return [32]byte{}, addrErr(k.a)
}
func (k failingKeys) Load(context.Context, int64) ([32]byte, bool, error) {
	return [32]byte{}, false, addrErr(k.a)
}

// TestLibraryLogsMaskErrorText checks the promise every part that logs
// makes (README: "error text in those lines has every address masked"):
// given a logger with no masking of its own (slog's bare JSON handler),
// the tracker's store and sink failure lines, the keyring's key store
// failure line and the sweeper's failure line hold no raw address, though
// each failing part's error text holds one in every visitor class. Checked
// to fail: the same error logged by the test through the bare handler is a
// leak (the teeth line).
func TestLibraryLogsMaskErrorText(t *testing.T) {
	for _, a := range append(visitors(), visitor4) {
		t.Run(a.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				var logs bytes.Buffer
				bare := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

				// The keyring: its store fails, a local key stands in.
				keyring, err := retention.NewKeyring(&retention.KeyringOptions{Store: failingKeys{a}, Logger: bare})
				require.NoError(t, err)
				defer keyring.Close()
				_, _, err = keyring.Keys(ctx, time.Now())
				require.ErrorIs(t, err, retention.ErrLocalKey)
				ipmasktest.AssertNoRawIPError(t, ipmask.Default, err, "Keys")

				// The tracker: its store and sink fail.
				good, err := retention.NewKeyring(&retention.KeyringOptions{Logger: bare})
				require.NoError(t, err)
				defer good.Close()
				b, err := clickstore.NewBuilder(ipmask.Default, good, nil)
				require.NoError(t, err)
				mem, err := clickstore.NewMemory(nil)
				require.NoError(t, err)
				defer mem.Close()
				tracker, err := track.New(b, failingStore{mem, a}, failingSink{a}, &track.Options{Logger: bare})
				require.NoError(t, err)
				mux := http.NewServeMux()
				mux.Handle("GET /go/{link}", tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusFound) })))
				mux.Handle("GET /done/{link}", tracker.ConversionHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
				for _, p := range []string{"/go/spring", "/done/spring"} {
					r := browserRequest(p)
					r.RemoteAddr = netip.AddrPortFrom(visitor6, 1).String()
					mux.ServeHTTP(httptest.NewRecorder(), r)
				}
				st := tracker.Stats()
				require.Positive(t, st.StoreFailures)
				require.Positive(t, st.SinkFailures)

				// The sweeper: its target fails.
				sw, err := retention.NewSweeper(sweepFunc(func() error { return addrErr(a) }), &retention.SweeperOptions{Logger: bare})
				require.NoError(t, err)
				_, err = sw.SweepNow(ctx)
				require.Error(t, err)

				out := logs.Bytes()
				require.NotEmpty(t, out)
				for _, want := range []string{"store", "sink", "sweep"} {
					assert.Contains(t, string(out), want)
				}
				ipmasktest.AssertNoRawIP(t, ipmask.Default, out, "the library's log lines")
				assertNoForm(t, out, "the library's log lines", carried(a)...)

				var teeth bytes.Buffer
				slog.New(slog.NewJSONHandler(&teeth, nil)).Warn("x", "err", addrErr(a))
				require.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, teeth.Bytes()), "the check finds an address in an error logged as it is")
			})
		})
	}
}
