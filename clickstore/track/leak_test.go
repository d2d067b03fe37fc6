package track_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// zeroBits keeps no bit of any address: under it, any address at all in a
// text is a leak.
var zeroBits ipmask.Policy

// TestErrorsCarryNoInput drives every error path of the package with
// canary addresses in the input it can see and checks that no error carries
// an address or quotes the input. A row that gives no error for any input
// fails: the test counts that every path was reached.
func TestErrorsCarryNoInput(t *testing.T) {
	e := newTrackEnv(t, nil)
	b := newTestBuilder(t)
	rows := []struct {
		name, want string
		err        func(s string) error
	}{
		{"nil builder", "nil *clickstore.Builder", func(string) error { _, err := track.New(nil, e.store, e.sink, nil); return err }},
		{"nil store", "nil clickstore.Store", func(string) error { _, err := track.New(b, nil, e.sink, nil); return err }},
		{"nil sink", "nil clickstore.Sink", func(string) error { _, err := track.New(b, e.store, nil, nil); return err }},
		{"opt-out header", "not a header name", func(s string) error {
			_, err := track.New(b, e.store, e.sink, &track.Options{OptOutHeader: s})
			return err
		}},
		{"agent cache", "AgentCache", func(string) error {
			_, err := track.New(b, e.store, e.sink, &track.Options{AgentCache: -1})
			return err
		}},
		{"window", "Window", func(string) error {
			_, err := track.New(b, e.store, e.sink, &track.Options{Window: -time.Second})
			return err
		}},
		{"middleware", "nil LinkFunc", func(string) error { _, err := e.tracker.Middleware(nil); return err }},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			reached := 0
			for _, s := range clickstoretest.Canaries() {
				err := r.err(s)
				if err == nil {
					continue // e.g. 203.0.113.9 is a valid header name
				}
				reached++
				msg := err.Error()
				assert.True(t, strings.HasPrefix(msg, "track: "), msg)
				assert.Contains(t, msg, r.want)
				ipmasktest.AssertNoRawIPError(t, zeroBits, err, "input %q", s)
				if frag := strings.Trim(s, " .:%[]x"); len(frag) >= 4 {
					assert.NotContains(t, msg, frag, "the error quotes its input")
				}
			}
			assert.Positive(t, reached, "the error path was never reached")
		})
	}
}

// TestLogsCarryNoInput makes the tracker write each of its log lines (a
// masked client address, a route without the link's wildcard) for requests
// that carry canary addresses in every place a client controls, and checks
// that the log, the Visits and the Stats hold no address at all.
func TestLogsCarryNoInput(t *testing.T) {
	var log bytes.Buffer
	e := newTrackEnv(t, &track.Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	mux := http.NewServeMux()
	mux.Handle("GET /go/{link}", e.tracker.Handler(http.HandlerFunc(redirect)))
	mux.Handle("GET /nolink/{other}", e.tracker.Handler(http.HandlerFunc(redirect)))
	serve := func(path, remote, s string) {
		r := httptest.NewRequest("GET", "http://t.example"+path, nil)
		r.RemoteAddr = remote
		r.Header.Set("User-Agent", s)
		r.Header.Set("Referer", "http://"+s+"/")
		r.Header.Set("X-Forwarded-For", s)
		mux.ServeHTTP(httptest.NewRecorder(), r)
	}
	for i, s := range clickstoretest.Canaries() {
		// Masked-looking peers (an IPv6 network, a run of IPv4 ones) are
		// taken for a masking middleware in front of the tracker.
		serve("/go/spring-sale", "[2001:db8:1::]:1", s)
		serve("/go/spring-sale", fmt.Sprintf("198.51.%d.0:1", i%256), s)
		serve("/nolink/"+url.PathEscape(s), "203.0.113.9:1", s)
	}
	var visits []track.Visit
	for _, s := range clickstoretest.Canaries() {
		r := request("GET", "203.0.113.9:1", s, "Referer", "http://"+s+"/")
		visits = append(visits, e.tracker.Track(r, "l", clickstore.KindClick))
	}
	st := e.tracker.Stats()
	require.Positive(t, st.MaskedAddrs, "the masked-address line was written")
	require.Positive(t, st.NoLink, "the no-wildcard line was written")
	require.Contains(t, log.String(), track.ErrMaskedAddr.Error())
	require.Contains(t, log.String(), "no path wildcard")
	ipmasktest.AssertNoRawIP(t, zeroBits, log.String())
	for _, v := range visits {
		assert.Equal(t, track.Counted, v.Outcome)
		ipmasktest.AssertNoRawIP(t, zeroBits, fmt.Sprintf("%v %+v %#v", v, v, v))
	}
	ipmasktest.AssertNoRawIP(t, zeroBits, fmt.Sprintf("%v %+v %#v", st, st, st))
}
