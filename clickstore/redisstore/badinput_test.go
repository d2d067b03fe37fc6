package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
)

// A nil context, a nil *Store, *Sink or *KeyStore, one not made by its
// constructor, and a go-redis client held as a nil pointer are errors
// that name the package and the fault, never nil dereferences.
func TestBadReceiverOrArgument(t *testing.T) {
	ctx := context.Background()
	var nilCtx context.Context
	client := newClient(t, redistest.Start(t, nil).Addr())
	s := newStore(t, client, nil)
	sink, err := redisstore.NewSink(client, &redisstore.SinkOptions{Prefix: prefix(t) + "-sink"})
	require.NoError(t, err)
	ks, err := redisstore.NewKeyStore(client, &redisstore.KeyStoreOptions{Prefix: prefix(t) + "-keys"})
	require.NoError(t, err)
	now := time.Now()
	c := clickstoretest.Click(1, "l", now)
	q := aggregate.Query{Link: "l", From: now.Add(-time.Hour), To: now.Add(time.Hour)}
	var (
		ns  *redisstore.Store
		nsk *redisstore.Sink
		nks *redisstore.KeyStore
		nc  *redis.Client
		ncc *redis.ClusterClient
	)
	zs, zsk, zks := new(redisstore.Store), new(redisstore.Sink), new(redisstore.KeyStore)
	allErr := func(s *redisstore.Store, ctx context.Context) error {
		for _, err := range s.All(ctx) {
			return err
		}
		return nil
	}
	rows := []struct {
		name string
		call func() error
		want string
	}{
		{"New nil context", func() error { _, err := redisstore.New(nilCtx, client, nil); return err }, "New: nil context"},
		{"New nil *redis.Client", func() error { _, err := redisstore.New(ctx, nc, nil); return err }, "New: nil client"},
		{"New nil *redis.ClusterClient", func() error { _, err := redisstore.New(ctx, ncc, nil); return err }, "New: nil client"},
		{"NewSink nil *redis.Client", func() error { _, err := redisstore.NewSink(nc, nil); return err }, "NewSink: nil client"},
		{"NewKeyStore nil *redis.Client", func() error { _, err := redisstore.NewKeyStore(nc, nil); return err }, "NewKeyStore: nil client"},
		{"Record nil context", func() error { _, err := s.Record(nilCtx, c); return err }, "record: nil context"},
		{"RecordBatch nil context", func() error { _, err := s.RecordBatch(nilCtx, []clickstore.Click{c}); return err }, "record batch: nil context"},
		{"Latest nil context", func() error { _, _, err := s.Latest(nilCtx, c.Visitor, c.PrevVisitor, "l"); return err }, "latest: nil context"},
		{"All nil context", func() error { return allErr(s, nilCtx) }, "all: nil context"},
		{"EraseVisitor nil context", func() error { _, err := s.EraseVisitor(nilCtx, c.Visitor); return err }, "erase visitor: nil context"},
		{"EraseLink nil context", func() error { _, err := s.EraseLink(nilCtx, "l"); return err }, "erase link: nil context"},
		{"Sweep nil context", func() error { _, err := s.Sweep(nilCtx, now); return err }, "sweep: nil context"},
		{"Flush nil context", func() error { return s.Flush(nilCtx) }, "flush: nil context"},
		{"Clear nil context", func() error { _, err := s.Clear(nilCtx); return err }, "clear: nil context"},
		{"Sink.Add nil context", func() error { return sink.Add(nilCtx, c, clickstore.Unique) }, "add click: nil context"},
		{"Sink.Cells nil context", func() error { _, err := sink.Cells(nilCtx, q); return err }, "cells: nil context"},
		{"Sink.EraseLink nil context", func() error { _, err := sink.EraseLink(nilCtx, "l"); return err }, "erase link: nil context"},
		{"KeyStore.Load nil context", func() error { _, _, err := ks.Load(nilCtx, 1); return err }, "nil context"},
		{"KeyStore.LoadOrCreate nil context", func() error {
			_, err := ks.LoadOrCreate(nilCtx, 1, [32]byte{1}, time.Minute)
			return err
		}, "nil context"},
		{"nil Store.Record", func() error { _, err := ns.Record(ctx, c); return err }, "nil *Store"},
		{"nil Store.RecordBatch", func() error { _, err := ns.RecordBatch(ctx, []clickstore.Click{c}); return err }, "nil *Store"},
		{"nil Store.Latest", func() error { _, _, err := ns.Latest(ctx, c.Visitor, c.PrevVisitor, "l"); return err }, "nil *Store"},
		{"nil Store.All", func() error { return allErr(ns, ctx) }, "nil *Store"},
		{"nil Store.EraseVisitor", func() error { _, err := ns.EraseVisitor(ctx, c.Visitor); return err }, "nil *Store"},
		{"nil Store.EraseLink", func() error { _, err := ns.EraseLink(ctx, "l"); return err }, "nil *Store"},
		{"nil Store.Sweep", func() error { _, err := ns.Sweep(ctx, now); return err }, "nil *Store"},
		{"nil Store.Flush", func() error { return ns.Flush(ctx) }, "nil *Store"},
		{"nil Store.Clear", func() error { _, err := ns.Clear(ctx); return err }, "nil *Store"},
		{"nil Store.Close", ns.Close, "nil *Store"},
		{"zero Store.Record", func() error { _, err := zs.Record(ctx, c); return err }, "not made by New"},
		{"zero Store.Latest", func() error { _, _, err := zs.Latest(ctx, c.Visitor, c.PrevVisitor, "l"); return err }, "not made by New"},
		{"zero Store.All", func() error { return allErr(zs, ctx) }, "not made by New"},
		{"zero Store.Sweep", func() error { _, err := zs.Sweep(ctx, now); return err }, "not made by New"},
		{"zero Store.Flush", func() error { return zs.Flush(ctx) }, "not made by New"},
		{"zero Store.Clear", func() error { _, err := zs.Clear(ctx); return err }, "not made by New"},
		{"nil Sink.Add", func() error { return nsk.Add(ctx, c, clickstore.Unique) }, "nil *Sink"},
		{"nil Sink.Cells", func() error { _, err := nsk.Cells(ctx, q); return err }, "nil *Sink"},
		{"nil Sink.EraseLink", func() error { _, err := nsk.EraseLink(ctx, "l"); return err }, "nil *Sink"},
		{"zero Sink.Add", func() error { return zsk.Add(ctx, c, clickstore.Unique) }, "not made by NewSink"},
		{"zero Sink.Cells", func() error { _, err := zsk.Cells(ctx, q); return err }, "not made by NewSink"},
		{"nil KeyStore.Load", func() error { _, _, err := nks.Load(ctx, 1); return err }, "nil *KeyStore"},
		{"nil KeyStore.LoadOrCreate", func() error {
			_, err := nks.LoadOrCreate(ctx, 1, [32]byte{1}, time.Minute)
			return err
		}, "nil *KeyStore"},
		{"zero KeyStore.Load", func() error { _, _, err := zks.Load(ctx, 1); return err }, "not made by NewKeyStore"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = row.call() })
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "redisstore: "), "%q does not name the package", err)
			assert.Contains(t, err.Error(), row.want)
		})
	}
	assert.NotPanics(t, func() {
		assert.Zero(t, ns.Stats())
		assert.Zero(t, nsk.Stats())
		assert.NoError(t, zs.Close())
	})
}

// A sweep at a time past 2262, where Unix nanoseconds overflow, deletes
// every click, as Memory's does; its cut-off used to wrap, and it
// deleted nothing and said nothing.
func TestSweepFarFuture(t *testing.T) {
	ctx := context.Background()
	client := newClient(t, redistest.Start(t, nil).Addr())
	s := newStore(t, client, nil)
	now := time.Now()
	_, err := s.Record(ctx, clickstoretest.Click(1, "l", now))
	require.NoError(t, err)
	st, err := s.Sweep(ctx, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	assert.Equal(t, 1, st.Deleted)
	assert.Zero(t, st.Held)
	_, ok, err := s.Latest(ctx, clickstoretest.Visitor(1), clickstore.Pseudonym{}, "l")
	require.NoError(t, err)
	assert.False(t, ok)
}
