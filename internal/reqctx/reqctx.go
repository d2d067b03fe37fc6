// Package reqctx holds what the module's middlewares hand each other through
// a request's context: a context node that carries one value in one
// allocation, and the full client address that the clientip middleware
// resolved, which only code inside this module can ask for.
//
// Code outside the module cannot import an internal package, so it cannot
// name [ClientKey] and cannot read the full address back: a handler behind
// the masking middleware sees only the masked network, while the tracker
// (inside the module) still pseudonymizes the visitor from the full address,
// whichever order the two middlewares are installed in.
package reqctx

import (
	"context"
	"fmt"
	"io"
	"net/netip"
)

// Node is a context node carrying one value of type T under the key type K
// (a zero-size, unexported struct of the package that owns the value). It
// does in one allocation what context.WithValue does in two: the node and
// the boxed value.
//
// If T implements [ClientHolder], the node also answers [ClientKey], so
// that one node carries both a middleware's own value and the full client
// address.
//
// A Node is immutable once made with [With]; it is safe for concurrent use.
// The zero Node has no parent context and must not be used as a context;
// make one with With (or, as the clientip middleware does to share an
// allocation, set Context and V before handing it out).
// It prints as "reqctx.Node" under every fmt verb, never its value.
type Node[K comparable, T any] struct {
	context.Context
	V T
}

// With returns a child of parent that answers key type K with v.
func With[K comparable, T any](parent context.Context, v T) *Node[K, T] {
	return &Node[K, T]{Context: parent, V: v}
}

// Value answers a key of type K with the node itself, [ClientKey] with
// the address a [ClientHolder] value holds, and asks the parent for any
// other key.
func (n *Node[K, T]) Value(key any) any {
	if _, ok := key.(K); ok {
		return n
	}
	if _, ok := key.(ClientKey); ok {
		if c, ok := any(&n.V).(ClientHolder); ok {
			return c.FullClientAddr()
		}
	}
	return n.Context.Value(key)
}

// String names the node's kind without printing its value, so that
// fmt.Sprint of a request context never prints an address.
func (Node[K, T]) String() string { return "reqctx.Node" }

// Format writes "reqctx.Node" whatever the verb and flags, so that not
// even %#v or %+v prints the value.
func (Node[K, T]) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "reqctx.Node") }

// Get returns the value that the nearest [Node] of key type K in ctx holds.
func Get[K comparable, T any](ctx context.Context) (T, bool) {
	var k K
	if n, ok := ctx.Value(k).(*Node[K, T]); ok {
		return n.V, true
	}
	var zero T
	return zero, false
}

// ClientKey is the context key under which the clientip middleware answers
// with a *netip.Addr: the full client address it resolved, before masking.
// Only code in this module can name it.
type ClientKey struct{}

// ClientHolder is implemented by a [Node]'s value (through a pointer to
// it) that carries the full client address: the node answers [ClientKey]
// with FullClientAddr's result, a pointer to the address the middleware
// resolved, or to the zero Addr if it resolved none (it may then serve the
// request with the peer's address, which is not the client's).
type ClientHolder interface {
	FullClientAddr() *netip.Addr
}

// ClientAddr reports whether the clientip middleware handled this request
// (ran) and, if so, the full client address it resolved: the zero Addr
// when it could not resolve one.
func ClientAddr(ctx context.Context) (a netip.Addr, ran bool) {
	p, ok := ctx.Value(ClientKey{}).(*netip.Addr)
	if !ok || p == nil {
		return netip.Addr{}, false
	}
	return *p, true
}
