package newcomer_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/clickanon/clickanon/internal/redistest"
)

// TestRedisChecks runs the tracker with -redis against servers of every
// kind the README names: one that keeps nothing on disk (the quick
// start's command), a stock one (snapshots on), one with an append-only
// file, one whose maxmemory-policy evicts, and a managed one that refuses
// CONFIG GET; with no override, each override alone and both. Each
// server is refused unless the override of every check it fails is given,
// the refusal is one clear line that names the flag that overrides it,
// and the other override does not stand in for it.
func TestRedisChecks(t *testing.T) {
	t.Parallel()
	redisChecks(t, false)
}

// TestRedisRefusalNamesItsFlag: a refusal names the tracker's flag that
// overrides the check that failed (the library's Options field means
// nothing to a user of the binary), for every server and flags of
// TestRedisChecks.
func TestRedisRefusalNamesItsFlag(t *testing.T) {
	t.Parallel()
	redisChecks(t, true)
}

type check int

const (
	persistence check = 1 << iota
	eviction
)

// redisChecks is TestRedisChecks; with names, it checks only that each
// refusal names the override flag of a check that failed.
func redisChecks(t *testing.T, names bool) {
	servers := []struct {
		name  string
		opts  *redistest.Options
		fails check
	}{
		{"quick start's", &redistest.Options{Local: true}, 0},
		{"stock", &redistest.Options{Persistence: true}, persistence},
		{"append-only", &redistest.Options{Args: []string{"--appendonly", "yes"}}, persistence},
		{"evicting", &redistest.Options{Args: []string{"--maxmemory-policy", "allkeys-lru"}}, eviction},
		{"evicting and saving", &redistest.Options{Persistence: true, Args: []string{"--maxmemory-policy", "volatile-ttl"}}, persistence | eviction},
		{"CONFIG refused", &redistest.Options{Args: []string{"--rename-command", "CONFIG", ""}}, persistence | eviction},
	}
	flags := map[check]string{persistence: "-redis-allow-persistence", eviction: "-redis-allow-eviction"}
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			s := redistest.Start(t, srv.opts)
			for given := check(0); given <= persistence|eviction; given++ {
				args := []string{"-redis", s.Addr()}
				for c, f := range flags {
					if given&c != 0 {
						args = append(args, f)
					}
				}
				p, out := start(t, args...)
				missing := srv.fails &^ given
				if missing == 0 {
					assert.NotNil(t, p, "%v: accepted:\n%s", args[2:], out)
					if p != nil && !names {
						id := p.create(t, "https://example.com/")
						p.click(t, id, 1)
						assert.EqualValues(t, 1, p.stats(t, id, "")["clicks"], "%v: the click is counted", args[2:])
					}
					continue
				}
				if !assert.Nil(t, p, "%v: refused", args[2:]) {
					continue
				}
				lower := strings.ToLower(out)
				if names {
					named := false
					for c, f := range flags {
						if missing&c != 0 && strings.Contains(out, f) {
							named = true
						}
					}
					assert.True(t, named, "%v: the refusal names the flag that overrides what failed:\n%s", args[2:], out)
					continue
				}
				persists := strings.Contains(lower, "persist") || strings.Contains(lower, "snapshot") || strings.Contains(lower, "append")
				evicts := strings.Contains(lower, "evict")
				assert.True(t, missing&persistence != 0 && persists || missing&eviction != 0 && evicts,
					"%v: the refusal says which check failed:\n%s", args[2:], out)
				if srv.name == "CONFIG refused" {
					assert.Contains(t, lower, "config", "%v: says the server refused CONFIG GET:\n%s", args[2:], out)
				}
				assert.LessOrEqual(t, strings.Count(strings.TrimSpace(out), "\n"), 2, "%v: a short refusal, not a stack:\n%s", args[2:], out)
				assert.NotContains(t, out, "panic", "%v", args[2:])
			}
		})
	}
}
