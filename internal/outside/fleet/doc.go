// Package fleet holds an outside review's black-box tests of
// clickstore/redisstore as a fleet uses it (issues 6 and 17): several
// Store values on one redis-server acting as several machines, with their
// own clocks, deciding first clicks, erasing and attributing conversions
// for one another; every key the fleet leaves in Redis and when Redis
// drops it; the checks of the server's persistence and eviction
// settings; and a local Redis Cluster, every node of it searched.
//
// The package has no code of its own: everything is in its tests, in
// package fleet_test, which imports only the module's public packages, the
// standard library, testify, go-redis (to build the clients the README
// shows and to read the keyspace) and the module's harness
// internal/redistest, which starts redis-server and a local cluster.
package fleet
