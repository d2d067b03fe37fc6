package redisstore_test

import (
	"context"
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
	"github.com/clickanon/clickanon/internal/testkit"
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
	rows := []testkit.BadCall{
		{Name: "New nil context", Call: func() error { _, err := redisstore.New(nilCtx, client, nil); return err }, Want: "New: nil context"},
		{Name: "New nil *redis.Client", Call: func() error { _, err := redisstore.New(ctx, nc, nil); return err }, Want: "New: nil client"},
		{Name: "New nil *redis.ClusterClient", Call: func() error { _, err := redisstore.New(ctx, ncc, nil); return err }, Want: "New: nil client"},
		{Name: "NewSink nil *redis.Client", Call: func() error { _, err := redisstore.NewSink(nc, nil); return err }, Want: "NewSink: nil client"},
		{Name: "NewKeyStore nil *redis.Client", Call: func() error { _, err := redisstore.NewKeyStore(nc, nil); return err }, Want: "NewKeyStore: nil client"},
		{Name: "Record nil context", Call: func() error { _, err := s.Record(nilCtx, c); return err }, Want: "record: nil context"},
		{Name: "RecordBatch nil context", Call: func() error { _, err := s.RecordBatch(nilCtx, []clickstore.Click{c}); return err }, Want: "record batch: nil context"},
		{Name: "Latest nil context", Call: func() error { _, _, err := s.Latest(nilCtx, c.Visitor, c.PrevVisitor, "l"); return err }, Want: "latest: nil context"},
		{Name: "All nil context", Call: func() error { return allErr(s, nilCtx) }, Want: "all: nil context"},
		{Name: "EraseVisitor nil context", Call: func() error { _, err := s.EraseVisitor(nilCtx, c.Visitor); return err }, Want: "erase visitor: nil context"},
		{Name: "EraseLink nil context", Call: func() error { _, err := s.EraseLink(nilCtx, "l"); return err }, Want: "erase link: nil context"},
		{Name: "Sweep nil context", Call: func() error { _, err := s.Sweep(nilCtx, now); return err }, Want: "sweep: nil context"},
		{Name: "Flush nil context", Call: func() error { return s.Flush(nilCtx) }, Want: "flush: nil context"},
		{Name: "Clear nil context", Call: func() error { _, err := s.Clear(nilCtx); return err }, Want: "clear: nil context"},
		{Name: "Sink.Add nil context", Call: func() error { return sink.Add(nilCtx, c, clickstore.Unique) }, Want: "add click: nil context"},
		{Name: "Sink.Cells nil context", Call: func() error { _, err := sink.Cells(nilCtx, q); return err }, Want: "cells: nil context"},
		{Name: "Sink.EraseLink nil context", Call: func() error { _, err := sink.EraseLink(nilCtx, "l"); return err }, Want: "erase link: nil context"},
		{Name: "KeyStore.Load nil context", Call: func() error { _, _, err := ks.Load(nilCtx, 1); return err }, Want: "nil context"},
		{Name: "KeyStore.LoadOrCreate nil context", Call: func() error {
			_, err := ks.LoadOrCreate(nilCtx, 1, [32]byte{1}, time.Minute)
			return err
		}, Want: "nil context"},
		{Name: "nil Store.Record", Call: func() error { _, err := ns.Record(ctx, c); return err }, Want: "nil *Store"},
		{Name: "nil Store.RecordBatch", Call: func() error { _, err := ns.RecordBatch(ctx, []clickstore.Click{c}); return err }, Want: "nil *Store"},
		{Name: "nil Store.Latest", Call: func() error { _, _, err := ns.Latest(ctx, c.Visitor, c.PrevVisitor, "l"); return err }, Want: "nil *Store"},
		{Name: "nil Store.All", Call: func() error { return allErr(ns, ctx) }, Want: "nil *Store"},
		{Name: "nil Store.EraseVisitor", Call: func() error { _, err := ns.EraseVisitor(ctx, c.Visitor); return err }, Want: "nil *Store"},
		{Name: "nil Store.EraseLink", Call: func() error { _, err := ns.EraseLink(ctx, "l"); return err }, Want: "nil *Store"},
		{Name: "nil Store.Sweep", Call: func() error { _, err := ns.Sweep(ctx, now); return err }, Want: "nil *Store"},
		{Name: "nil Store.Flush", Call: func() error { return ns.Flush(ctx) }, Want: "nil *Store"},
		{Name: "nil Store.Clear", Call: func() error { _, err := ns.Clear(ctx); return err }, Want: "nil *Store"},
		{Name: "nil Store.Close", Call: ns.Close, Want: "nil *Store"},
		{Name: "zero Store.Record", Call: func() error { _, err := zs.Record(ctx, c); return err }, Want: "not made by New"},
		{Name: "zero Store.Latest", Call: func() error { _, _, err := zs.Latest(ctx, c.Visitor, c.PrevVisitor, "l"); return err }, Want: "not made by New"},
		{Name: "zero Store.All", Call: func() error { return allErr(zs, ctx) }, Want: "not made by New"},
		{Name: "zero Store.Sweep", Call: func() error { _, err := zs.Sweep(ctx, now); return err }, Want: "not made by New"},
		{Name: "zero Store.Flush", Call: func() error { return zs.Flush(ctx) }, Want: "not made by New"},
		{Name: "zero Store.Clear", Call: func() error { _, err := zs.Clear(ctx); return err }, Want: "not made by New"},
		{Name: "nil Sink.Add", Call: func() error { return nsk.Add(ctx, c, clickstore.Unique) }, Want: "nil *Sink"},
		{Name: "nil Sink.Cells", Call: func() error { _, err := nsk.Cells(ctx, q); return err }, Want: "nil *Sink"},
		{Name: "nil Sink.EraseLink", Call: func() error { _, err := nsk.EraseLink(ctx, "l"); return err }, Want: "nil *Sink"},
		{Name: "zero Sink.Add", Call: func() error { return zsk.Add(ctx, c, clickstore.Unique) }, Want: "not made by NewSink"},
		{Name: "zero Sink.Cells", Call: func() error { _, err := zsk.Cells(ctx, q); return err }, Want: "not made by NewSink"},
		{Name: "nil KeyStore.Load", Call: func() error { _, _, err := nks.Load(ctx, 1); return err }, Want: "nil *KeyStore"},
		{Name: "nil KeyStore.LoadOrCreate", Call: func() error {
			_, err := nks.LoadOrCreate(ctx, 1, [32]byte{1}, time.Minute)
			return err
		}, Want: "nil *KeyStore"},
		{Name: "zero KeyStore.Load", Call: func() error { _, _, err := zks.Load(ctx, 1); return err }, Want: "not made by NewKeyStore"},
	}
	testkit.CheckBadCalls(t, "redisstore", rows)
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
