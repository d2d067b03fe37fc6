package redisstore

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
)

// FuzzDecodeClick: decoding any bytes never panics, and what decodes
// re-encodes to the same bytes (the form is canonical).
func FuzzDecodeClick(f *testing.F) {
	c := clickstore.Click{
		Link: "promo", Time: time.Unix(1700000000, 5).UTC(), Visitor: clickstore.Pseudonym{1},
		Network: netip.MustParsePrefix("2001:db8::/48"), Country: "DE", Bot: "b", Referrer: "r.example", Device: "mobile",
	}
	b, err := encodeClick(nil, c, 0, nil, nil)
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeClick(b, nil, nil)
		if err != nil {
			return
		}
		again, err := encodeClick(nil, c, 0, nil, nil)
		require.NoError(t, err)
		assert.Equal(t, b, again)
	})
}

func TestSealedAddressDiesWithItsKey(t *testing.T) {
	c := clickstore.Click{
		Link: "x", Time: time.Unix(1, 0).UTC(), Visitor: clickstore.Pseudonym{1},
		Network: netip.MustParsePrefix("192.0.2.0/24"), RawAddr: netip.MustParseAddr("192.0.2.55"),
	}
	secret := [32]byte{9}
	b, err := encodeClick(nil, c, 4, &secret, []byte("ad"))
	require.NoError(t, err)

	got, err := decodeClick(b, func(e int64) ([32]byte, bool) { return secret, e == 4 }, []byte("ad"))
	require.NoError(t, err)
	assert.Equal(t, c, got)

	gone, err := decodeClick(b, func(int64) ([32]byte, bool) { return [32]byte{}, false }, []byte("ad"))
	require.NoError(t, err)
	assert.False(t, gone.RawAddr.IsValid(), "without its key the address is lost")
	assert.Equal(t, c.Network, gone.Network)

	_, err = decodeClick(b, func(int64) ([32]byte, bool) { return secret, true }, []byte("other"))
	assert.Error(t, err, "a value moved to another marker must not open")
}
