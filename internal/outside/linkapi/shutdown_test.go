package linkapi_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// firstRead signals when the body is first read: the client got the
// server's 100 Continue, so the request is in the server's hands.
type firstRead struct {
	io.Reader
	once sync.Once
	read chan struct{}
}

func (f *firstRead) Read(b []byte) (int, error) {
	f.once.Do(func() { close(f.read) })
	return f.Reader.Read(b)
}

// On SIGTERM and on SIGINT the tracker stops taking requests, finishes
// those in flight (link creations whose bodies are still arriving, here),
// writes every count and exits with status 0; a tracker started again on
// the same database shows every click that was answered, once, and the
// links created in flight. Checked to fail: the in-flight bodies are
// finished only after the "shutting down" line, so a Shutdown that closed
// active connections fails their 201; the counts are compared after the
// restart, so a Close that skipped the final write (-flush-interval 1h
// keeps the ticker from writing first) loses them. Both were run: with
// srv.Close for srv.Shutdown the 201s failed, with the sink's Close
// skipped the counts did.
func TestSignalsFinishInFlightAndFlush(t *testing.T) {
	for _, sig := range []os.Signal{syscallTERM, syscallINT} {
		t.Run(sig.String(), func(t *testing.T) {
			p := start(t, "", "-flush-interval", "1h", "-trusted-proxies", "127.0.0.1/32")
			l := p.create("https://example.com/")
			var wg sync.WaitGroup
			const clickers, each = 4, 15
			for c := range clickers {
				wg.Go(func() {
					for i := range each {
						r := p.do(req{path: "/l/" + l.ID, xff: fmt.Sprintf("198.51.%d.%d", 100+c, i+1)})
						assert.Equal(t, http.StatusFound, r.code)
					}
				})
			}
			wg.Wait()

			// Three creations in flight: headers sent, 100 Continue
			// received, half the body sent.
			tr := &http.Transport{ExpectContinueTimeout: 10 * time.Second}
			defer tr.CloseIdleConnections()
			cl := &http.Client{Transport: tr, Timeout: 20 * time.Second}
			type answer struct {
				code int
				body string
				err  error
			}
			var writers []*io.PipeWriter
			answers := make(chan answer, 3)
			for i := range 3 {
				pr, pw := io.Pipe()
				writers = append(writers, pw)
				body := &firstRead{Reader: pr, read: make(chan struct{})}
				hr, err := http.NewRequest("POST", p.Base+"/api/links", body)
				require.NoError(t, err)
				hr.Header.Set("Expect", "100-continue")
				hr.ContentLength = -1
				go func() {
					res, err := cl.Do(hr)
					if err != nil {
						answers <- answer{err: err}
						return
					}
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					answers <- answer{code: res.StatusCode, body: string(b)}
				}()
				select {
				case <-body.read:
				case <-time.After(15 * time.Second):
					require.FailNow(t, "no 100 Continue")
				}
				_, err = fmt.Fprintf(pw, `{"url": "https://example.com/in-flight/%d"`, i)
				require.NoError(t, err)
			}
			require.NoError(t, p.Cmd.Process.Signal(sig))
			p.Eventually("shutting down", func() bool { return strings.Contains(p.Stdout.String(), "shutting down") })
			for _, pw := range writers {
				_, err := io.WriteString(pw, "}")
				require.NoError(t, err)
				require.NoError(t, pw.Close())
			}
			var inFlight []string
			for range writers {
				a := <-answers
				if assert.NoError(t, a.err) && assert.Equal(t, http.StatusCreated, a.code, a.body) {
					_, rest, _ := strings.Cut(a.body, `"id": "`)
					id, _, _ := strings.Cut(rest, `"`)
					inFlight = append(inFlight, id)
				}
			}
			select {
			case <-p.Done:
			case <-time.After(20 * time.Second):
				require.FailNow(t, "no exit")
			}
			assert.Equal(t, 0, p.Cmd.ProcessState.ExitCode(), p.Stderr.String())

			q := start(t, p.db)
			s := q.stats(l.ID)
			assert.EqualValues(t, clickers*each, s.Clicks, "every answered click, once")
			assert.EqualValues(t, clickers*each, s.Unique)
			for _, id := range inFlight {
				assert.Equal(t, http.StatusFound, q.do(req{path: "/l/" + id}).code, "the link created in flight was kept")
			}
		})
	}
}
