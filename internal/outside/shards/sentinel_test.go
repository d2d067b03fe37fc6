package shards_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
)

// startSentinel runs a Redis Sentinel (redis-server --sentinel) on a free
// loopback port that monitors the master at masterAddr as "shards", and
// stops it when the test ends.
func startSentinel(t *testing.T, masterAddr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, port, _ := net.SplitHostPort(addr)
	mh, mp, _ := net.SplitHostPort(masterAddr)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil,
		"port %s\nbind 127.0.0.1\ndir %s\nsentinel monitor shards %s %s 1\nsentinel down-after-milliseconds shards 1000\n",
		port, dir, mh, mp), 0o600))
	cmd := exec.Command("redis-server", conf, "--sentinel")
	require.NoError(t, cmd.Start(), "apt-get install redis-server")
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.Eventually(t, func() bool {
		out, err := redistest.Do(addr, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "shards")
		return err == nil && out != ""
	}, 10*time.Second, 20*time.Millisecond, "the sentinel answers")
	return addr
}

// TestSentinelClient runs exercise through a failover client
// (redis.NewFailoverClient, which the docs name: "a single server,
// Sentinel and Cluster all work"; "with a Sentinel (failover) client only
// the current master is checked"): the store's promises hold through it,
// and New refuses a master that persists.
//
// Checked to fail: with the master's appendonly left on, exercise's New
// fails (ErrPersistence).
func TestSentinelClient(t *testing.T) {
	srv := startRedis(t)
	sentinel := startSentinel(t, srv.Addr())
	admin := plainClient(t, srv.Addr())
	mk := func(t *testing.T) redis.UniversalClient {
		c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "shards", SentinelAddrs: []string{sentinel}, ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	exercise(t, mk, func(t *testing.T) map[string]time.Duration { return scanAll(t, admin) })

	_, err := redistest.Do(srv.Addr(), "CONFIG", "SET", "appendonly", "yes")
	require.NoError(t, err)
	_, err = redisstore.New(context.Background(), mk(t), &redisstore.Options{Prefix: prefix(), Logger: quiet})
	assert.ErrorIs(t, err, redisstore.ErrPersistence, "a persisting master is refused")
	_, err = redistest.Do(srv.Addr(), "CONFIG", "SET", "appendonly", "no")
	require.NoError(t, err)
}
