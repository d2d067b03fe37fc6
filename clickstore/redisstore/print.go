package redisstore

import (
	"fmt"
	"io"
	"log/slog"
)

// String returns "redisstore.Store(window " and the store's window ")",
// e.g. "redisstore.Store(window 30m0s)". A Store prints and logs as that
// alone: fmt would otherwise walk its fields, the index writer's queue of
// pseudonyms and links among them, while Record and the writer change
// them (a data race).
func (s *Store) String() string {
	if s == nil {
		return "redisstore.Store(nil)"
	}
	return "redisstore.Store(window " + s.window.String() + ")"
}

// Format implements [fmt.Formatter]: every verb prints [Store.String].
func (s *Store) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue implements [slog.LogValuer]: a Store logs as [Store.String].
func (s *Store) LogValue() slog.Value { return slog.StringValue(s.String()) }

// String returns "redisstore.Sink". A Sink prints and logs as that alone,
// as a [Store] does: fmt would otherwise walk its fields while Add changes
// them.
func (s *Sink) String() string {
	if s == nil {
		return "redisstore.Sink(nil)"
	}
	return "redisstore.Sink"
}

// Format implements [fmt.Formatter]: every verb prints [Sink.String].
func (s *Sink) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue implements [slog.LogValuer]: a Sink logs as [Sink.String].
func (s *Sink) LogValue() slog.Value { return slog.StringValue(s.String()) }

// String returns "redisstore.KeyStore". A KeyStore prints and logs as that
// alone, as a [Store] does.
func (k *KeyStore) String() string {
	if k == nil {
		return "redisstore.KeyStore(nil)"
	}
	return "redisstore.KeyStore"
}

// Format implements [fmt.Formatter]: every verb prints [KeyStore.String].
func (k *KeyStore) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, k.String()) }

// LogValue implements [slog.LogValuer]: a KeyStore logs as
// [KeyStore.String].
func (k *KeyStore) LogValue() slog.Value { return slog.StringValue(k.String()) }
