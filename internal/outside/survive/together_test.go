package survive_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProcessesStartTogetherOnANewFile starts several linktracker
// processes at the same moment on one SQLite file that does not exist
// yet (a fleet of instances on one host brought up together, or a
// service manager restarting them at once): README's default -db is a
// file several instances may share, and every one must start. Each then
// creates links, and every process redirects every link, whichever
// created it, and counts its clicks.
func TestProcessesStartTogetherOnANewFile(t *testing.T) {
	t.Parallel()
	const n = 4
	for round := range 3 { // the race is for the file's creation: try it a few times
		dir := t.TempDir()
		dsn := "sqlite:" + filepath.Join(dir, "links.db")
		procs := make([]*proc, n)
		outs := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { procs[i], outs[i] = start(t, dir, "-db", dsn) })
		}
		wg.Wait()
		for i, p := range procs {
			require.NotNil(t, p, "round %d: process %d of %d started together on a new file exited:\n%s", round, i, n, outs[i])
		}
		ids := make([]string, n)
		for i, p := range procs {
			code, id := p.create(fmt.Sprintf("https://example.com/%d/%d", round, i))
			require.Equal(t, http.StatusCreated, code)
			ids[i] = id
		}
		for i, p := range procs {
			for j, id := range ids {
				code, loc, _ := p.get("/l/" + id)
				assert.Equal(t, http.StatusFound, code, "round %d: process %d redirects process %d's link", round, i, j)
				assert.Equal(t, fmt.Sprintf("https://example.com/%d/%d", round, j), loc)
			}
		}
		for _, p := range procs {
			p.stop()
		}
		p, out := start(t, dir, "-db", dsn)
		require.NotNil(t, p, "%s", out)
		for j, id := range ids {
			assert.Equal(t, uint64(n), p.clicks(id), "round %d: link %d clicked once through each process", round, j)
		}
		p.stop()
	}
}
