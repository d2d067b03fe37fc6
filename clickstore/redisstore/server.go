package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrPersistence is wrapped by the error [New] returns when a server
// writes its data to disk (RDB snapshots or an append-only file), or
// refuses to say whether it does, and Options.AllowPersistence is not set.
// Test for it with errors.Is to tell an operator which setting to change.
var ErrPersistence = errors.New("server may persist clicks to disk")

// ErrEviction is wrapped by the error [New] returns when a server's
// maxmemory-policy may evict keys, or it refuses to say, and
// Options.AllowEviction is not set.
var ErrEviction = errors.New("server may evict clicks early")

// shards is what go-redis's ClusterClient and Ring offer to reach every
// node: ForEachShard calls fn on every master and replica (ClusterClient)
// or every shard (Ring).
type shards interface {
	ForEachShard(ctx context.Context, fn func(ctx context.Context, client *redis.Client) error) error
}

// checkServer refuses servers that persist or evict, checking every node
// of a Cluster (masters and replicas) or Ring: go-redis would send one
// CONFIG GET to one node only. A node that refuses CONFIG GET (a managed
// service) counts as one that might; a network error is returned as it
// is. A setting accepted only because of an override is logged as a
// warning naming the node (a server address, never a visitor's).
func checkServer(ctx context.Context, c redis.UniversalClient, allowPersist, allowEvict bool, log *slog.Logger) error {
	sh, ok := c.(shards)
	if !ok {
		return checkNode(ctx, c, "", allowPersist, allowEvict, log)
	}
	var mu sync.Mutex
	var errs []error
	err := sh.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error {
		if err := checkNode(ctx, n, n.Options().Addr, allowPersist, allowEvict, log); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisstore: checking the servers: %w", err)
	}
	// ForEachShard runs concurrently: report in a stable order.
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// checkNode checks one node; node is its address ("" for a single client,
// whose address the caller knows).
func checkNode(ctx context.Context, c redis.Cmdable, node string, allowPersist, allowEvict bool, log *slog.Logger) error {
	at := ""
	if node != "" {
		at = "node " + node + ": "
	}
	warn := func(msg, setting, value, option string) {
		log.LogAttrs(ctx, slog.LevelWarn, "redisstore: "+msg+"; accepted because Options."+option+" is set",
			slog.String("node", node), slog.String("setting", setting), slog.String("value", value))
	}
	persist := func(setting, value, why string) error {
		if allowPersist {
			warn(why, setting, value, "AllowPersistence")
			return nil
		}
		return fmt.Errorf("redisstore: %s%w: %s (%s %q), which keeps clicks past their window; disable it or set Options.AllowPersistence", at, ErrPersistence, why, setting, value)
	}
	save, err := configGet(ctx, c, "save")
	if err == nil && save != "" {
		err = persist("save", save, "it saves snapshots")
	} else if err != nil {
		err = refused(err, ErrPersistence, at, "persistence", "AllowPersistence", allowPersist, func() { warn("the server refused CONFIG GET save", "save", "", "AllowPersistence") })
	}
	if err != nil {
		return err
	}
	aof, err := configGet(ctx, c, "appendonly")
	if err == nil && aof != "no" {
		err = persist("appendonly", aof, "it writes an append-only file")
	} else if err != nil {
		err = refused(err, ErrPersistence, at, "persistence", "AllowPersistence", allowPersist, func() { warn("the server refused CONFIG GET appendonly", "appendonly", "", "AllowPersistence") })
	}
	if err != nil {
		return err
	}
	pol, err := configGet(ctx, c, "maxmemory-policy")
	switch {
	case err != nil:
		return refused(err, ErrEviction, at, "eviction policy", "AllowEviction", allowEvict, func() {
			warn("the server refused CONFIG GET maxmemory-policy", "maxmemory-policy", "", "AllowEviction")
		})
	case pol == "noeviction":
	case allowEvict:
		warn("its maxmemory-policy may evict keys", "maxmemory-policy", pol, "AllowEviction")
	default:
		return fmt.Errorf("redisstore: %s%w: maxmemory-policy %q may evict keys, and an evicted click counts its visitor as unique again; use noeviction or set Options.AllowEviction", at, ErrEviction, pol)
	}
	return nil
}

func configGet(ctx context.Context, c redis.Cmdable, name string) (string, error) {
	m, err := c.ConfigGet(ctx, name).Result()
	if err != nil {
		return "", err
	}
	v, ok := m[name]
	if !ok {
		return "", fmt.Errorf("redisstore: CONFIG GET %s: no such setting", name)
	}
	return v, nil
}

// refused handles the error of a CONFIG GET: a server's refusal (an error
// reply, as managed services give) is accepted with a warning if allowed,
// else wrapped with sentinel and the option to set; a network error is
// returned as it is.
func refused(err, sentinel error, at, what, option string, allowed bool, warn func()) error {
	var reply redis.Error
	if errors.As(err, &reply) {
		if allowed {
			warn()
			return nil
		}
		return fmt.Errorf("redisstore: %s%w: the server refused to show its %s (%w); set Options.%s if you accept the risk", at, sentinel, what, err, option)
	}
	return fmt.Errorf("redisstore: %schecking the server's %s: %w", at, what, err)
}

// reloadEvery rate-limits the topology reloads failed asks for.
const reloadEvery = 100 * time.Millisecond

// failed reacts to a failed call: on a Cluster, an error that is not a
// server's reply (a refused or broken connection, a timeout) or a
// CLUSTERDOWN means the topology may have changed (a master died and a
// replica took over; or a MOVED reached us, from the node client WAIT
// runs on), so it asks go-redis to reload it now instead of at
// its next periodic reload (every 60 s by default), at most once per
// 100 ms.
func (s *Store) failed(ctx context.Context, err error) {
	c, ok := s.client.(*redis.ClusterClient)
	if !ok || err == nil {
		return
	}
	var reply redis.Error
	if errors.As(err, &reply) && !redis.HasErrorPrefix(err, "CLUSTERDOWN") && !redis.HasErrorPrefix(err, "MOVED") {
		return
	}
	now := time.Now().UnixNano()
	last := s.reloaded.Load()
	if now-last < int64(reloadEvery) || !s.reloaded.CompareAndSwap(last, now) {
		return
	}
	c.ReloadState(ctx)
}
