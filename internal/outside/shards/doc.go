// Package shards holds a third outside review's black-box tests of
// clickstore/redisstore across a fleet (issues 6 and 17), aimed at what the
// earlier reviews (internal/outside/fleet) left out: key prefixes of every
// form (empty, long, with ':', glob characters or bytes that are not UTF-8,
// one the start of another) sharing one server, each store's keys in its
// own Cluster slot and untouched by the others; the go-redis clients a
// service may hand it (RESP2 and RESP3, a pool of one connection under
// many goroutines, context timeouts on and off, a Ring); a capacity shared
// by several Store values under concurrency; replies lost after the server
// ran the command (a loopback proxy of the tests' own), for Record,
// RecordBatch, the erasures and the Sink; the KeyStore across a restart and
// a FLUSHALL; and every key's lifetime after mixed traffic.
//
// The package has no code of its own: everything is in its tests, in
// package shards_test, which imports only the module's public packages,
// the standard library, testify, go-redis (to build the clients and read
// the keyspace) and the module's harness internal/redistest.
package shards
