package reqctx

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

type keyA struct{}
type keyB struct{}

func TestNode(t *testing.T) {
	ctx := With[keyA](context.Background(), 7)
	ctx2 := With[keyB](context.Context(ctx), "b")
	if v, ok := Get[keyA, int](ctx2); !ok || v != 7 {
		t.Fatalf("Get keyA = %v, %v; want 7, true", v, ok)
	}
	if v, ok := Get[keyB, string](ctx2); !ok || v != "b" {
		t.Fatalf("Get keyB = %q, %v; want b, true", v, ok)
	}
	if _, ok := Get[keyB, string](context.Context(ctx)); ok {
		t.Fatal("Get keyB on a context without it reported a value")
	}
	if s := fmt.Sprint(ctx2); strings.Contains(s, "7") || strings.Contains(s, "\"b\"") {
		t.Fatalf("printing the context shows a value: %s", s)
	}
	if n := testing.AllocsPerRun(100, func() { _ = With[keyA](context.Background(), 7) }); n > 1 {
		t.Fatalf("With allocates %v times, want at most 1", n)
	}
}

type addrCtx struct {
	context.Context
	addr netip.Addr
}

func (c *addrCtx) Value(key any) any {
	if key == (ClientKey{}) {
		return &c.addr
	}
	return c.Context.Value(key)
}

func TestClientAddr(t *testing.T) {
	if _, ok := ClientAddr(context.Background()); ok {
		t.Fatal("ClientAddr on an empty context reported an address")
	}
	a := netip.MustParseAddr("192.0.2.9")
	if got, ok := ClientAddr(&addrCtx{context.Background(), a}); !ok || got != a {
		t.Fatalf("ClientAddr = %v, %v; want the stored address", got, ok)
	}
	if _, ok := ClientAddr(&addrCtx{context.Background(), netip.Addr{}}); ok {
		t.Fatal("ClientAddr reported the zero address as resolved")
	}
}
