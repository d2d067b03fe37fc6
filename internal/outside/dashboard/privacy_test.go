package dashboard_test

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sentences splits the privacy line into sentences.
func sentences(s string) []string {
	var out []string
	for _, x := range regexp.MustCompile(`[.;]\s+`).Split(strings.TrimSpace(s), -1) {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// TestPrivacyLineSaysWhatIsKept reads the plain-words line on what is
// stored about visitors, as the dashboard shows it, against the README
// (a visitor forgotten after 30 minutes; an IPv4 /24, an IPv6 /48; cells
// of fewer than k = 5 visitors suppressed) and against what the tracker
// is seen to keep across a restart: the visitor is forgotten (their
// repeat click counts as unique again) but their network is still in
// the statistics, so the line must not say the network is deleted with
// the pseudonym, and must say it stays in the counts.
func TestPrivacyLineSaysWhatIsKept(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "kept.db")
	p := start(t, "-db", "sqlite:"+db)
	id := p.create("https://example.com/kept")
	vs := clickPeople(t, p, id, 6)
	tb := newTab(t, true)
	s, pages := settled(t, p, id, tb)
	page := pages[0]
	compare(t, "before a restart", s, page)
	require.Equal(t, 5, s.K)

	line := page.Privacy
	assert.Equal(t, s.Privacy, strings.TrimSpace(line))
	for _, words := range []string{"never stores, logs or returns", "IP address", "30 minutes", "24 bits", "48", "fewer than 5 visitors"} {
		assert.Contains(t, line, words, "the README's promise in the page's words")
	}
	assert.Contains(t, page.Note, "within 30 minutes", "the note's visitor window is the README's")
	assert.Contains(t, page.Note, "at least 5 different visitors", "the note's k is the API's")
	assert.Equal(t, []string{"network=clicks", "198.51.100.0/24=6"}, page.Tables["network"], "six visitors of one /24: published")

	// Restart on the same database: what was transient is gone, the
	// counts are not.
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.Done:
	case <-time.After(20 * time.Second):
		require.FailNow(t, "the tracker did not stop on SIGTERM")
	}
	q := start(t, "-db", "sqlite:"+db)
	require.Equal(t, http.StatusFound, q.send("GET", "/l/"+id, vs[0].hdr()).code)
	after := q.stats(id)
	assert.Equal(t, s.Unique+1, after.Unique, "the visitor was forgotten: their repeat is unique again")
	s2, pages := settled(t, q, id, tb)
	page2 := pages[0]
	compare(t, "after a restart", s2, page2)
	assert.Equal(t, s.Clicks+1, s2.Clicks, "the counts outlive the restart")
	assert.Equal(t, []string{"network=clicks", "198.51.100.0/24=7"}, page2.Tables["network"], "the network outlives the visitor: it is kept in the counts")
	assert.Equal(t, line, page2.Privacy)

	// So the line must say so: no sentence that says something is
	// deleted names the network, and one that speaks of what is kept
	// after the window names it.
	var kept bool
	for _, x := range sentences(line) {
		low := strings.ToLower(x)
		if strings.Contains(low, "delete") || strings.Contains(low, "forget") {
			assert.NotRegexp(t, `\b(networks?|those|them)\b`, low, "the line says the network is deleted: %q", x)
		}
		if strings.Contains(low, "count") && strings.Contains(low, "network") {
			kept = true
		}
	}
	assert.True(t, kept, "the line says the network stays in the counts: %q", line)
}
