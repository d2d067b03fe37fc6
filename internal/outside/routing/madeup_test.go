package routing_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
)

// madeUp returns the i-th made-up link of a class of forms: short and
// long, random bytes, Unicode, an address, dot segments, encoded slashes,
// NUL and control bytes, a known link with a suffix, the known link's
// case changed.
func madeUp(rng *rand.Rand, i int) string {
	switch i % 10 {
	case 0:
		return fmt.Sprintf("made-up-%d", i)
	case 1:
		b := make([]byte, 1+rng.IntN(64))
		for j := range b {
			b[j] = byte(rng.IntN(256))
		}
		return string(b)
	case 2:
		return strings.Repeat("x", 200+rng.IntN(4000))
	case 3:
		return fmt.Sprintf("ünïcødé-%d-😀", i)
	case 4:
		return fmt.Sprintf("198.51.%d.%d", rng.IntN(256), rng.IntN(256))
	case 5:
		return fmt.Sprintf("a/../%d/./b", i)
	case 6:
		return fmt.Sprintf("https://example.org/%d?q=%d#f", i, i)
	case 7:
		return fmt.Sprintf("x\x00%d\x1b\r\n", i)
	case 8:
		return fmt.Sprintf("spring-sale%d", i)
	default:
		return "SPRING-SALE"
	}
}

// A route form: a router built on the tracker, and the path a link is
// requested at.
type routeForm struct {
	name  string
	build func(t *testing.T, tr *track.Tracker, next http.Handler, link func(*http.Request) string) http.Handler
	path  func(link string) string
}

func oneSegment(link string) string { return "/go/" + url.PathEscape(link) }

func routeForms() []routeForm {
	return []routeForm{
		{"ServeMux {link}", func(t *testing.T, tr *track.Tracker, next http.Handler, _ func(*http.Request) string) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("GET /go/{link}", tr.Handler(next))
			return mux
		}, oneSegment},
		{"ServeMux {link...}", func(t *testing.T, tr *track.Tracker, next http.Handler, _ func(*http.Request) string) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/go/{link...}", tr.Handler(next))
			return mux
		}, func(link string) string { return "/go/" + strings.ReplaceAll(url.PathEscape(link), "%2F", "/") }},
		{"ServeMux behind StripPrefix", func(t *testing.T, tr *track.Tracker, next http.Handler, _ func(*http.Request) string) http.Handler {
			inner := http.NewServeMux()
			inner.Handle("GET /go/{link}", tr.Handler(next))
			outer := http.NewServeMux()
			outer.Handle("/api/", http.StripPrefix("/api", inner))
			return outer
		}, func(link string) string { return "/api" + oneSegment(link) }},
		{"chi Handler", func(t *testing.T, tr *track.Tracker, next http.Handler, _ func(*http.Request) string) http.Handler {
			r := chi.NewRouter()
			r.Method("GET", "/go/{link}", tr.Handler(next))
			return r
		}, oneSegment},
		{"chi With(Middleware)", func(t *testing.T, tr *track.Tracker, next http.Handler, link func(*http.Request) string) http.Handler {
			mw, err := tr.Middleware(func(r *http.Request) (string, clickstore.Kind, bool) {
				l := link(r)
				return l, clickstore.KindClick, l != ""
			})
			require.NoError(t, err)
			r := chi.NewRouter()
			r.With(mw).Method("GET", "/go/{link}", next)
			return r
		}, oneSegment},
		{"Middleware around a func router", func(t *testing.T, tr *track.Tracker, next http.Handler, link func(*http.Request) string) http.Handler {
			mw, err := tr.Middleware(func(r *http.Request) (string, clickstore.Kind, bool) {
				l, ok := strings.CutPrefix(r.URL.Path, "/go/")
				return l, clickstore.KindClick, ok && l != "" && r.Method == "GET"
			})
			require.NoError(t, err)
			return mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/go/") {
					next.ServeHTTP(w, r)
					return
				}
				http.NotFound(w, r)
			}))
		}, oneSegment},
	}
}

// Made-up links of every form (4,000 per route form, 24,000 in all), from many visitors at once, through
// every route form, answered by the link lookup with a status of 400 or
// more in every way it may (404, 410, 400, 451, http.Error after a header,
// a body written): none is held in the store, none counted, every one
// that reached the tracker is Unserved; and the real links around them
// are counted exactly, unique per visitor.
func TestMadeUpLinksOfEveryFormAreNeverTracked(t *testing.T) {
	const total, workers = 4_000, 4 // per form: 24,000 in all
	for _, f := range routeForms() {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t, nil, 0)
			linkOf := func(r *http.Request) string {
				if l := chi.URLParam(r, "link"); l != "" {
					return l
				}
				l, _ := strings.CutPrefix(r.URL.Path, "/go/")
				return l
			}
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				l := r.PathValue("link")
				if l == "" {
					l = linkOf(r)
				}
				if u, err := url.PathUnescape(l); err == nil && (u == "spring-sale" || u == "a/b") { // chi's link is the raw one
					http.Redirect(w, r, "https://example.com/", http.StatusFound)
					return
				}
				switch len(l) % 5 {
				case 0:
					http.NotFound(w, r)
				case 1:
					w.WriteHeader(http.StatusGone)
				case 2:
					http.Error(w, "bad link", http.StatusBadRequest)
				case 3:
					w.Header().Set("Content-Type", "text/plain")
					w.WriteHeader(http.StatusUnavailableForLegalReasons)
					_, _ = w.Write([]byte("nope"))
				default:
					w.WriteHeader(http.StatusNotFound)
					w.WriteHeader(http.StatusFound) // superfluous: the 404 stands
				}
			})
			h := f.build(t, e.tracker, next, linkOf)
			var wg sync.WaitGroup
			reached := make([]int, workers)
			for g := range workers {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(g), 13))
					for i := g; i < total; i += workers {
						addr := netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
						r := req("GET", f.path(madeUp(rng, i)), netip.AddrPortFrom(addr, 1).String(), firefox)
						if serve(h, r) >= 400 {
							reached[g]++
						}
					}
				})
			}
			wg.Wait()
			assert.Zero(t, e.store.Len(), "no made-up link held")
			assert.Empty(t, e.sink.all(), "no made-up link counted")
			st := e.tracker.Stats()
			assert.Zero(t, st.Clicks)
			var sum int
			for _, n := range reached {
				sum += n
			}
			assert.LessOrEqual(t, st.Unserved, uint64(sum), "only requests answered 400 or more are Unserved")
			assert.Positive(t, st.Unserved)

			// The real links, between and after: exact.
			for i, l := range []string{"spring-sale", "spring-sale", "a/b"} {
				r := req("GET", f.path(l), "203.0.113.9:1", firefox)
				assert.Equal(t, http.StatusFound, serve(h, r), "known link %d", i)
			}
			got := e.sink.all()
			if assert.Len(t, got, 3) {
				assert.Equal(t, clickstore.Unique, got[0].u)
				assert.Equal(t, clickstore.Repeat, got[1].u)
				assert.Equal(t, clickstore.Unique, got[2].u)
			}
			assert.Equal(t, 2, e.store.Len())
		})
	}
}
