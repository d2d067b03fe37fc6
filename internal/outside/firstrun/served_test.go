package firstrun_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadmeMetricsAndHealth: every metric README names
// (`clickanon_...`) is served by the linktracker's /metrics once it has
// counted a click and an orphan, and /healthz answers 200 with each key
// README lists for it, for every store it reports, and the top-level
// keys the quick start shows.
func TestReadmeMetricsAndHealth(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	md := readmeText(t, root)
	p := startTracker(t, t.TempDir(), "-addr", "127.0.0.1:0")
	code, _, body := p.do(t, "POST", "/api/links", `{"url":"https://example.com/"}`, "curl/8")
	require.Equal(t, http.StatusCreated, code, body)
	var link struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(body), &link))
	code, _, _ = p.do(t, "GET", "/l/"+link.ID, "", "Mozilla/5.0 (X11; Linux x86_64)")
	require.Equal(t, http.StatusFound, code)
	code, _, _ = p.do(t, "GET", "/c/no-such-link.gif", "", "Mozilla/5.0 (X11; Linux x86_64)")
	require.Equal(t, http.StatusNotFound, code)

	code, _, metrics := p.do(t, "GET", "/metrics", "", "curl/8")
	require.Equal(t, http.StatusOK, code)
	names := regexp.MustCompile(`clickanon_[a-z_]+[a-z]`).FindAllString(md, -1)
	require.GreaterOrEqual(t, len(names), 3)
	for _, name := range names {
		assert.Regexp(t, `(?m)^`+name+`[{ ]`, metrics, "README names the metric %s; /metrics does not serve it", name)
	}

	code, _, health := p.do(t, "GET", "/healthz", "", "curl/8")
	assert.Equal(t, http.StatusOK, code, health)
	var h map[string]any
	require.NoError(t, json.Unmarshal([]byte(health), &h), health)
	assert.Equal(t, "ok", h["status"])
	assert.Equal(t, true, h["database_reachable"])
	i := strings.Index(md, "`/healthz` answers 200")
	require.Positive(t, i, "README says what /healthz answers")
	para, _, _ := strings.Cut(md[i:], "\n\n")
	keys := regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(para, -1)
	require.GreaterOrEqual(t, len(keys), 4, "README lists /healthz's keys: %s", para)
	stores, ok := h["stores"].([]any)
	require.True(t, ok && len(stores) > 0, "/healthz lists its stores: %s", health)
	var memory bool
	for _, s := range stores {
		st, ok := s.(map[string]any)
		require.True(t, ok)
		memory = memory || st["name"] == "memory"
		for _, k := range keys {
			assert.Contains(t, st, k[1], "README lists %s for each store; /healthz's %v has not", k[1], st["name"])
		}
	}
	assert.True(t, memory, "the quick start's /healthz answers \"name\": \"memory\"")
	assert.Equal(t, 0, p.stop(t), fmt.Sprintf("%s", p.output()))
}
