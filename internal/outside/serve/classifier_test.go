package serve_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
)

// list is a user's own bot list: agent tokens and their labels, swapped
// whole while clicks run (a list reloaded from a file, say).
type list struct {
	tokens map[string]string
}

func (l *list) classify(ua string) track.Agent {
	for tok, label := range l.tokens {
		if strings.Contains(ua, tok) {
			return track.Agent{Bot: label}
		}
	}
	return track.Agent{}
}

// A classifier of the user's own, backed by a list swapped while many
// goroutines click with many more agents than the cache holds: every
// click carries the label the configured classifier gives its agent (the
// old list's or the new one's while the window the cache keeps answers
// for runs, the new list's alone once a window has passed since the
// swap), never the default classifier's nor another agent's; HEAD and
// OPTIONS requests are labelled as the docs say whatever the list says;
// the classifier never sees more than the first KiB of an agent.
func TestSwappedClassifierUnderConcurrentClicks(t *testing.T) {
	const window = time.Minute
	for _, cacheSize := range []int{1, 2, 7, 64, 4096} {
		t.Run(fmt.Sprint(cacheSize), func(t *testing.T) {
			var cur atomic.Pointer[list]
			var longest atomic.Int64
			oldList := &list{tokens: map[string]string{"agent-1": "old-one", "agent-2": "old-two"}}
			newList := &list{tokens: map[string]string{"agent-2": "new-two", "agent-3": "new-three"}}
			cur.Store(oldList)
			g := newRig(t, &track.Options{AgentCache: cacheSize, Window: window, NetworkQuota: -1,
				Classify: func(ua string) track.Agent {
					if n := int64(len(ua)); n > longest.Load() {
						longest.Store(n)
					}
					return cur.Load().classify(ua)
				}})
			// Agents that Classify, the default, would call bots or
			// people: the user's list decides alone.
			agents := make([]string, 0, 300)
			for i := range 300 {
				base := []string{"curl/8.4.0", chrome, "Googlebot/2.1", "Slackbot 1.0", ""}[i%5]
				ua := fmt.Sprintf("%s agent-%d x%d", base, i%4, i)
				if i%50 == 0 {
					ua += strings.Repeat(" pad", 400) // past the first KiB
				}
				agents = append(agents, ua)
			}
			methods := []string{"GET", "POST", "HEAD", "OPTIONS"}
			run := func(check func(ua, method, got string)) {
				var wg sync.WaitGroup
				for w := range 4 {
					wg.Go(func() {
						for i := range 600 {
							ua := agents[(i*7+w*13)%len(agents)]
							method := methods[(i+w)%len(methods)]
							r := httptest.NewRequest(method, "/go/x", nil)
							r.RemoteAddr = fmt.Sprintf("198.51.%d.%d:1", w, 1+i%250)
							r.Header.Set("User-Agent", ua)
							v := g.tracker.Track(r, "x", clickstore.KindClick)
							if v.Outcome != track.Counted {
								t.Errorf("%s %.30q: %v", method, ua, v.Outcome)
								continue
							}
							check(ua, method, v.Bot)
						}
					})
				}
				wg.Wait()
			}
			label := func(l *list, ua, method string) string {
				switch method {
				case "HEAD":
					return track.LabelHead
				case "OPTIONS":
					return track.LabelOptions
				}
				return l.classify(ua[:min(len(ua), 1024)]).Bot
			}
			run(func(ua, method, got string) {
				assert.Equal(t, label(oldList, ua, method), got, "%s %.40q", method, ua)
			})
			cur.Store(newList)
			g.clock.add(window / 2)
			run(func(ua, method, got string) {
				assert.Contains(t, []string{label(oldList, ua, method), label(newList, ua, method)}, got, "%s %.40q", method, ua)
			})
			g.clock.add(window/2 + time.Nanosecond)
			run(func(ua, method, got string) {
				assert.Equal(t, label(newList, ua, method), got, "a window after the swap: %s %.40q", method, ua)
			})
			assert.LessOrEqual(t, longest.Load(), int64(1024), "the classifier saw more than the first KiB")
			s := g.tracker.Stats()
			assert.Equal(t, uint64(3*4*600), s.Clicks)
		})
	}
}
