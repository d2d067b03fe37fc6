// Package redistest starts a throwaway redis-server, or a Redis Cluster, for
// tests.
//
// [Start] runs redis-server from PATH on a free loopback port, in a temporary
// directory, without persistence (--save "" --appendonly no) unless the
// [Options] ask for it, waits until it answers PING and stops it when the
// test ends (t.Cleanup), whether the test passed or not. A [Server] can be
// killed and restarted on the same port, to test what clients do when the
// server goes away, and can force a SAVE and hand back the bytes of the
// snapshot, to test what a dump would reveal.
//
// If the environment variable CLICKANON_REDIS_ADDR holds an address
// (host:port), tests use that server instead of starting one, unless the
// Options say the test needs a local server (restarts and dumps do). Tests
// that share a server must use their own key prefixes.
//
// [StartCluster] starts a real cluster (three masters and a replica each by
// default) with `redis-cli --cluster create` on free loopback ports, and
// [SharedCluster] one per test binary (stop it from TestMain with
// [StopShared]); a [Cluster] can kill nodes, fail over and migrate a slot,
// for fault tests.
//
// If redis-server is not installed, Start fails the test with a message
// saying how to install it (apt-get install redis-server); it never skips.
package redistest
