package reqctx

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type keyA struct{}
type keyB struct{}

func TestNode(t *testing.T) {
	ctx := With[keyA](context.Background(), 7)
	ctx2 := With[keyB](context.Context(ctx), "b")
	v, ok := Get[keyA, int](ctx2)
	assert.True(t, ok)
	assert.Equal(t, 7, v)
	s, ok := Get[keyB, string](ctx2)
	assert.True(t, ok)
	assert.Equal(t, "b", s)
	_, ok = Get[keyB, string](context.Context(ctx))
	assert.False(t, ok, "Get keyB on a context without it")
	_, ok = ClientAddr(ctx2)
	assert.False(t, ok, "a value that is no ClientHolder answers no address")
	assert.LessOrEqual(t, testing.AllocsPerRun(100, func() { _ = With[keyA](context.Background(), 7) }), 1.0)
}

// holder carries a full address as the clientip middleware's payload does.
type holder struct {
	secret string
	full   netip.Addr
}

func (h *holder) FullClientAddr() *netip.Addr { return &h.full }

func TestNodeAnswersClientKey(t *testing.T) {
	a := netip.MustParseAddr("198.51.100.77")
	ctx := With[keyA](context.Background(), holder{secret: "s3cret", full: a})
	got, ok := ClientAddr(context.WithValue(ctx, keyB{}, 1))
	require.True(t, ok)
	assert.Equal(t, a, got)
	h, ok := Get[keyA, holder](ctx)
	require.True(t, ok)
	assert.Equal(t, a, h.full)

	got, ok = ClientAddr(With[keyA](context.Background(), holder{}))
	assert.True(t, ok, "the middleware ran")
	assert.False(t, got.IsValid(), "and resolved no client")
	_, ok = ClientAddr(context.Background())
	assert.False(t, ok)
}

func TestNodeNeverPrintsItsValue(t *testing.T) {
	ctx := context.WithValue(With[keyA](context.Background(), holder{secret: "s3cret", full: netip.MustParseAddr("198.51.100.77")}), keyB{}, "x")
	node := With[keyA](context.Background(), holder{secret: "s3cret", full: netip.MustParseAddr("198.51.100.77")})
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		for _, c := range []any{ctx, node, *node} {
			out := fmt.Sprintf(verb, c)
			assert.NotContains(t, out, "s3cret", verb)
			assert.NotContains(t, out, "198.51.100.77", verb)
			assert.NotContains(t, out, "c6336", verb, "the address in hex") // 198.51.100 = c6.33.64
		}
		for _, c := range []any{node, *node} {
			assert.Equal(t, "reqctx.Node", fmt.Sprintf(verb, c), verb)
		}
	}
}
