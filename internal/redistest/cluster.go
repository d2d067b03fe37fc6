package redistest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// clusterTimeout bounds how long StartCluster waits for a new cluster to
// agree on its slots and for its replicas to sync.
const clusterTimeout = 30 * time.Second

// ClusterOptions configures [StartCluster]. The zero value (or nil) means
// three masters and one replica each, without persistence.
type ClusterOptions struct {
	// Masters is the number of masters; 0 means 3 (redis-cli requires
	// at least 3).
	Masters int

	// NoReplicas starts masters only. By default each master has one
	// replica.
	NoReplicas bool

	// Args are extra command-line arguments for every redis-server.
	Args []string
}

// Cluster is a local Redis Cluster started by [StartCluster] or
// [SharedCluster]: redis-server processes on free loopback ports with
// --cluster-enabled yes, joined by `redis-cli --cluster create`.
//
// Its methods are safe for concurrent use. The zero Cluster is not usable.
type Cluster struct {
	dir   string
	mu    sync.Mutex
	nodes []*clusterNode
}

type clusterNode struct {
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

var shared struct {
	once sync.Once
	c    *Cluster
	err  error
}

// SharedCluster returns the test binary's shared cluster (three masters,
// three replicas), starting it on first use: a cluster takes seconds to
// form. Tests that share it must use their own key prefixes and must not
// kill, fail over or migrate anything (use [StartCluster] for that). Call
// [StopShared] from TestMain after m.Run. It fails the test (t.Fatal) if
// the cluster cannot be started.
func SharedCluster(t testing.TB) *Cluster {
	t.Helper()
	shared.once.Do(func() { shared.c, shared.err = startCluster(nil) })
	if shared.err != nil {
		t.Fatalf("redistest: %v", shared.err)
	}
	return shared.c
}

// StopShared stops the shared cluster, if one was started.
func StopShared() {
	if shared.c != nil {
		shared.c.stop()
	}
}

// StartCluster starts a cluster for t and stops it when the test ends.
func StartCluster(t testing.TB, opts *ClusterOptions) *Cluster {
	t.Helper()
	c, err := startCluster(opts)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(c.stop)
	return c
}

func startCluster(opts *ClusterOptions) (*Cluster, error) {
	var o ClusterOptions
	if opts != nil {
		o = *opts
	}
	if o.Masters == 0 {
		o.Masters = 3
	}
	n := o.Masters
	if !o.NoReplicas {
		n *= 2
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found in PATH (%v): install it with `apt-get install redis-server`", err)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, fmt.Errorf("redis-cli not found in PATH (%v): install it with `apt-get install redis-tools`", err)
	}
	dir, err := os.MkdirTemp("", "redistest-cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	ok := false
	defer func() {
		if !ok {
			c.stop()
		}
	}()
	for i := range n {
		node, err := startNode(bin, fmt.Sprintf("%s/%d", dir, i), o.Args)
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, node)
	}
	args := []string{"--cluster", "create"}
	for _, nd := range c.nodes {
		args = append(args, nd.addr)
	}
	replicas := "1"
	if o.NoReplicas {
		replicas = "0"
	}
	args = append(args, "--cluster-replicas", replicas, "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %v: %s", err, out)
	}
	if err := c.waitHealthy(clusterTimeout); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

func startNode(bin, dir string, extra []string) (*clusterNode, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 { // a free port can be taken between probe and bind
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--protected-mode", "no",
			"--dir", dir, "--logfile", "", "--daemonize", "no", "--save", "", "--appendonly", "no",
			"--cluster-enabled", "yes", "--cluster-config-file", dir + "/nodes.conf",
			"--cluster-node-timeout", "1000",
			// CLUSTER SLOTS leaves out a replica whose replication offset
			// is still 0, which on an empty master lasts until the
			// master's first PING to its replicas (every 10 s by
			// default): ping every second, so that a new cluster is whole
			// in about 2 s instead of 10.
			"--repl-ping-replica-period", "1",
			// A replica syncs at once instead of after the 5 s a diskless
			// sync waits by default for more replicas to join it.
			"--repl-diskless-sync-delay", "0"}
		args = append(args, extra...)
		cmd := exec.Command(bin, args...)
		out := &limitedWriter{n: 16 << 10}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("starting redis-server: %v", err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		if err := ping(addr, startTimeout); err == nil {
			return &clusterNode{addr: addr, cmd: cmd, done: done}, nil
		} else {
			lastErr = fmt.Errorf("redis-server on %s: %v: %s", addr, err, out.String())
		}
		_ = cmd.Process.Kill()
		<-done
	}
	return nil, lastErr
}

// waitHealthy waits until every live node reports cluster_state:ok and
// every live replica's link to its master is up.
func (c *Cluster) waitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := c.healthy()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster not healthy after %v: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) healthy() error {
	for _, addr := range c.Addrs() {
		info, err := Do(addr, "CLUSTER", "INFO")
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("%s: cluster state not ok", addr)
		}
		repl, err := Do(addr, "INFO", "replication")
		if err != nil {
			return err
		}
		if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
			return fmt.Errorf("%s: replica not in sync", addr)
		}
		// Clients learn the topology from CLUSTER SLOTS: wait until it
		// shows every live node.
		v, err := DoValue(addr, "CLUSTER", "SLOTS")
		if err != nil {
			return err
		}
		ranges, _ := v.([]any)
		seen := map[string]bool{}
		for _, r := range ranges {
			f, _ := r.([]any)
			for _, n := range f[min(2, len(f)):] {
				if nf, _ := n.([]any); len(nf) >= 2 {
					seen[fmt.Sprint(nf[0], ":", nf[1])] = true
				}
			}
		}
		if want := len(c.Addrs()); len(seen) != want {
			return fmt.Errorf("%s: CLUSTER SLOTS shows %d of %d nodes", addr, len(seen), want)
		}
	}
	return nil
}

// WaitHealthy waits (at most 30 s) until every live node reports
// cluster_state:ok and every live replica is in sync, and fails the test
// otherwise.
func (c *Cluster) WaitHealthy(t testing.TB) {
	t.Helper()
	if err := c.waitHealthy(clusterTimeout); err != nil {
		t.Fatalf("redistest: %v", err)
	}
}

// Addrs returns the host:port of every running node.
func (c *Cluster) Addrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, n := range c.nodes {
		if n.cmd != nil {
			out = append(out, n.addr)
		}
	}
	return out
}

// Node is one node as CLUSTER NODES shows it. It is a plain value, safe to
// copy and share; the zero Node names no node.
type Node struct {
	ID, Addr string
	Master   bool
	MasterID string // for a replica
	Failed   bool
}

// Nodes returns the nodes as a live node sees them.
func (c *Cluster) Nodes(t testing.TB) []Node {
	t.Helper()
	var lastErr error
	for _, a := range c.Addrs() {
		out, err := Do(a, "CLUSTER", "NODES")
		if err != nil {
			lastErr = err
			continue
		}
		var nodes []Node
		for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 8 {
				continue
			}
			addr, _, _ := strings.Cut(f[1], "@")
			nodes = append(nodes, Node{ID: f[0], Addr: addr, Master: strings.Contains(f[2], "master"),
				MasterID: strings.Trim(f[3], "-"), Failed: strings.Contains(f[2], "fail")})
		}
		return nodes
	}
	t.Fatalf("redistest: CLUSTER NODES: no node answers: %v", lastErr)
	return nil
}

// SlotOwner returns the address of the master serving slot (CLUSTER
// SLOTS as a live node sees it).
func (c *Cluster) SlotOwner(t testing.TB, slot int) string {
	t.Helper()
	for _, a := range c.Addrs() {
		v, err := DoValue(a, "CLUSTER", "SLOTS")
		if err != nil {
			continue
		}
		ranges, _ := v.([]any)
		for _, r := range ranges {
			f, _ := r.([]any)
			if len(f) < 3 {
				continue
			}
			start, _ := f[0].(int64)
			end, _ := f[1].(int64)
			master, _ := f[2].([]any)
			if int64(slot) < start || int64(slot) > end || len(master) < 2 {
				continue
			}
			host, _ := master[0].(string)
			p, _ := master[1].(int64)
			return host + ":" + strconv.FormatInt(p, 10)
		}
	}
	t.Fatalf("redistest: no owner found for slot %d", slot)
	return ""
}

// Kill stops the node at addr abruptly (SIGKILL) and waits for it to exit.
func (c *Cluster) Kill(t testing.TB, addr string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.addr == addr && n.cmd != nil {
			n.kill()
			return
		}
	}
	t.Fatalf("redistest: Kill: no running node at %s", addr)
}

func (n *clusterNode) kill() {
	_ = n.cmd.Process.Kill()
	select {
	case <-n.done:
	case <-time.After(startTimeout):
	}
	n.cmd = nil
}

// Failover makes the replica at addr take over from its master (CLUSTER
// FAILOVER, a coordinated failover that loses nothing) and waits until it
// reports itself master.
func (c *Cluster) Failover(t testing.TB, addr string) {
	t.Helper()
	if _, err := Do(addr, "CLUSTER", "FAILOVER"); err != nil {
		t.Fatalf("redistest: CLUSTER FAILOVER on %s: %v", addr, err)
	}
	deadline := time.Now().Add(clusterTimeout)
	for time.Now().Before(deadline) {
		if role, err := Do(addr, "ROLE"); err == nil && strings.HasPrefix(role, "master") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("redistest: %s did not become master", addr)
}

// MigrateSlot moves slot from its owner to the master at to, the way
// redis-cli --cluster reshard does: SETSLOT IMPORTING on the target,
// MIGRATING on the source, MIGRATE of the slot's keys in batches of
// batch keys with pause between batches (so that a test's load runs while
// the slot is half moved), then SETSLOT NODE on every master.
func (c *Cluster) MigrateSlot(t testing.TB, slot int, to string, batch int, pause time.Duration) error {
	t.Helper()
	from := c.SlotOwner(t, slot)
	if from == to {
		return errors.New("redistest: MigrateSlot: the slot is already there")
	}
	id := func(addr string) (string, error) { return Do(addr, "CLUSTER", "MYID") }
	fromID, err := id(from)
	if err != nil {
		return err
	}
	toID, err := id(to)
	if err != nil {
		return err
	}
	s := strconv.Itoa(slot)
	if _, err := Do(to, "CLUSTER", "SETSLOT", s, "IMPORTING", fromID); err != nil {
		return err
	}
	if _, err := Do(from, "CLUSTER", "SETSLOT", s, "MIGRATING", toID); err != nil {
		return err
	}
	host, p, _ := strings.Cut(to, ":")
	for {
		v, err := DoValue(from, "CLUSTER", "GETKEYSINSLOT", s, strconv.Itoa(batch))
		if err != nil {
			return err
		}
		keys, _ := v.([]any)
		if len(keys) == 0 {
			break
		}
		args := []string{"MIGRATE", host, p, "", "0", "5000", "KEYS"}
		for _, k := range keys { // binary keys: no text round trip
			ks, _ := k.(string)
			args = append(args, ks)
		}
		if _, err := Do(from, args...); err != nil {
			return fmt.Errorf("MIGRATE: %v", err)
		}
		time.Sleep(pause)
	}
	for _, n := range c.Nodes(t) {
		if n.Master && !n.Failed {
			if _, err := Do(n.Addr, "CLUSTER", "SETSLOT", s, "NODE", toID); err != nil {
				return err
			}
		}
	}
	return nil
}

// KeySlot returns the cluster slot of key.
func (c *Cluster) KeySlot(t testing.TB, key string) int {
	t.Helper()
	out, err := Do(c.Addrs()[0], "CLUSTER", "KEYSLOT", key)
	if err != nil {
		t.Fatalf("redistest: CLUSTER KEYSLOT: %v", err)
	}
	n, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("redistest: CLUSTER KEYSLOT: %v", err)
	}
	return n
}

func (c *Cluster) stop() {
	c.mu.Lock()
	for _, n := range c.nodes {
		if n.cmd != nil {
			n.kill()
		}
	}
	c.mu.Unlock()
	_ = os.RemoveAll(c.dir)
}
