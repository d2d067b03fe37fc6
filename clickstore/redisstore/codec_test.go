package redisstore

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
)

// testRec is the recorded time the codec tests hold clicks at.
var testRec = time.Unix(1700000000, 123456789).UTC()

// testValue returns a marker's value for c in version 2: c recorded at
// testRec with a fixed token.
func testValue(t testing.TB, c clickstore.Click, epoch int64, secret *[32]byte) string {
	st := stampOf(testRec)
	b := append(st[:], "tok-8byt"...)
	b, err := encodeClick(b, c, recNano(testRec), epoch, secret)
	require.NoError(t, err)
	return string(b)
}

func keyOf(c clickstore.Click) clickKey {
	return clickKey{visitor: c.Visitor, link: c.Link, rec: recNano(testRec)}
}

func TestCodecRoundTrip(t *testing.T) {
	secret := [32]byte{7}
	open := func(e int64) ([32]byte, bool) { return secret, e == 3 }
	base := clickstore.Click{
		Link: "promo", Time: testRec, Visitor: clickstore.Pseudonym{1, 2},
		Network: netip.MustParsePrefix("192.0.2.0/24"), Country: "DE", Device: "mobile",
	}
	with := func(f func(*clickstore.Click)) clickstore.Click { c := base; f(&c); return c }
	tests := []struct {
		name   string
		c      clickstore.Click
		sealed bool
		max    int // the value's length at most, 0: no bound
	}{
		{name: "typical IPv4 click", c: base, max: 44},
		{name: "typical, time 40 µs before recorded", c: with(func(c *clickstore.Click) { c.Time = testRec.Add(-40 * time.Microsecond) }), max: 44},
		{name: "short referrer", c: with(func(c *clickstore.Click) { c.Referrer = "t.co" })},
		{name: "IPv6 /48", c: with(func(c *clickstore.Click) { c.Network = netip.MustParsePrefix("2001:db8:1::/48") })},
		{name: "IPv6 /128", c: with(func(c *clickstore.Click) { c.Network = netip.MustParsePrefix("2001:db8::1/128") })},
		{name: "IPv4-mapped IPv6 /120", c: with(func(c *clickstore.Click) { c.Network = netip.MustParsePrefix("::ffff:192.0.2.0/120") })},
		{name: "IPv4 /0, nothing else (padded)", c: clickstore.Click{Link: "l", Time: testRec, Visitor: clickstore.Pseudonym{9}, Network: netip.MustParsePrefix("0.0.0.0/0")}},
		{name: "IPv4 /32, odd /17", c: with(func(c *clickstore.Click) { c.Network = netip.MustParsePrefix("198.51.128.0/17") })},
		{name: "every field, conversion", c: with(func(c *clickstore.Click) {
			c.Kind, c.Bot, c.Referrer = clickstore.KindConversion, "Googlebot", "https://example.com/a?b=c"
		})},
		{name: "long referrer and link", c: with(func(c *clickstore.Click) {
			c.Referrer, c.Link = strings.Repeat("r", clickstore.MaxReferrerLen), strings.Repeat("l", clickstore.MaxLinkLen)
		})},
		{name: "time far before recorded", c: with(func(c *clickstore.Click) { c.Time = time.Unix(0, -1<<62).UTC() })},
		{name: "time far after recorded", c: with(func(c *clickstore.Click) { c.Time = time.Unix(0, 1<<62+5).UTC() })},
		{name: "sealed IPv4 raw address", sealed: true, c: with(func(c *clickstore.Click) { c.RawAddr = netip.MustParseAddr("192.0.2.55") })},
		{name: "sealed IPv6 raw address", sealed: true, c: with(func(c *clickstore.Click) {
			c.Network, c.RawAddr = netip.MustParsePrefix("2001:db8::/48"), netip.MustParseAddr("2001:db8::99")
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.c.Validate())
			var s *[32]byte
			if tt.sealed {
				s = &secret
			}
			v := testValue(t, tt.c, 3, s)
			if tt.max > 0 {
				assert.LessOrEqual(t, len(v), tt.max, "a Redis embstr holds at most 44 bytes")
			}
			assert.GreaterOrEqual(t, len(v), len(stamp{})+tokenLenV1, "the version before reads 35 bytes at least")
			got, err := decodeValue(v, keyOf(tt.c), open)
			require.NoError(t, err)
			assert.Equal(t, tt.c, got)
			if tt.c.RawAddr.IsValid() {
				assert.NotContains(t, v, string(tt.c.RawAddr.AsSlice()), "the raw address is sealed")
			}
		})
	}
}

// The lengths the package documentation gives for a typical click's
// value: 44 bytes at most, Redis's embedded string, while the click's time
// is within about a millisecond of the recorded time.
func TestTypicalValueLength(t *testing.T) {
	// A time d before the recorded time is the varint of 2d-1: 2 bytes
	// up to 8192 ns, 3 up to 1<<20 ns (1.05 ms).
	const us8, ms = 8192, 1 << 20
	for _, tt := range []struct {
		device string
		before time.Duration
		len    int
	}{
		{"mobile", 0, 41}, {"mobile", us8, 43}, {"mobile", us8 + 1, 44}, {"mobile", ms, 44}, {"mobile", ms + 1, 45},
		{"desktop", 0, 42}, {"desktop", us8, 44}, {"desktop", us8 + 1, 45},
	} {
		c := clickstore.Click{
			Link: "promo", Time: testRec.Add(-tt.before), Visitor: clickstore.Pseudonym{1},
			Network: netip.MustParsePrefix("192.0.2.0/24"), Country: "DE", Device: tt.device,
		}
		assert.Len(t, testValue(t, c, 0, nil), tt.len, "%s, %v before the recorded time", tt.device, tt.before)
	}
	c := clickstore.Click{
		Link: "promo", Time: testRec, Visitor: clickstore.Pseudonym{1},
		Network: netip.MustParsePrefix("192.0.2.0/24"), Country: "DE", Device: "mobile",
	}
	secret := [32]byte{1}
	for _, a := range []string{"192.0.2.1", "2001:db8::1"} {
		c.RawAddr = netip.MustParseAddr(a)
		if c.RawAddr.Is6() {
			c.Network = netip.MustParsePrefix("2001:db8::/48")
		}
		extra := len(testValue(t, c, 5, &secret)) - 41
		if c.RawAddr.Is6() {
			extra -= 3 // a /48 takes 3 bytes more than a /24
		}
		assert.Equal(t, map[bool]int{true: 35, false: 47}[c.RawAddr.Is4()], extra, "a sealed raw address")
	}
}

// Values written by earlier versions (version 1, with a 16-byte token)
// decode.
func TestCodecV1Fixture(t *testing.T) {
	st := stampOf(testRec)
	head := string(st[:]) + "token-of-16bytes"
	plain, err := hex.DecodeString(V1Value)
	require.NoError(t, err)
	c, err := decodeValue(head+string(plain), clickKey{}, nil)
	require.NoError(t, err)
	assert.Equal(t, V1Click, c)

	sealed, err := hex.DecodeString("0100000000000000010000000000010000000000000000000000000000001804c0000200010000000000000004be34ca8d965f9d245923a07b1594a8cf51eae58883d4bc4e4a9b2f5affb4714f377200017800000000")
	require.NoError(t, err)
	secret := [32]byte{9}
	c, err = decodeValue(head+string(sealed), clickKey{}, func(e int64) ([32]byte, bool) { return secret, e == 4 })
	require.NoError(t, err)
	assert.Equal(t, clickstore.Click{
		Link: "x", Time: time.Unix(1, 0).UTC(), Visitor: clickstore.Pseudonym{1},
		Network: netip.MustParsePrefix("192.0.2.0/24"), RawAddr: netip.MustParseAddr("192.0.2.55"),
	}, c)
}

func TestCodecCorrupt(t *testing.T) {
	c := clickstore.Click{
		Link: "promo", Time: testRec.Add(time.Millisecond), Visitor: clickstore.Pseudonym{1},
		Network: netip.MustParsePrefix("198.51.100.0/24"), Country: "FR", Bot: "b", Referrer: "r", Device: "d",
	}
	v := testValue(t, c, 0, nil)
	head, body := v[:len(stamp{})+tokenLen], v[len(stamp{})+tokenLen:]
	check := func(t *testing.T, v string) {
		_, err := decodeValue(v, keyOf(c), nil)
		require.ErrorIs(t, err, errCorrupt)
		assert.Equal(t, "redisstore: corrupt click value", err.Error(), "the error echoes nothing of the value")
	}
	for n := range len(body) {
		t.Run(fmt.Sprintf("truncated to %d bytes", n), func(t *testing.T) { check(t, head+body[:n]) })
	}
	tests := []struct{ name, body string }{
		{"trailing byte", body + "x"},
		{"time flag with a zero offset", pad("\xa0\x00\x18\xc6\x33\x64")},
		{"time offset not in its shortest form", "\xa0\x82\x00\x18\xc6\x33\x64"},
		{"bits set after the prefix length", pad("\x80\x17\xc6\x33\x65")},
		{"prefix length beyond IPv6", "\x80\xa2" + strings.Repeat("\x00", 16)},
		{"bot flag with an empty label", pad("\x88\x00\x00")},
		{"lower-case country", pad("\x90\x00ab")},
		{"no version flag", pad("\x00")},
		{"shorter than the padded form", "\x80\x00"},
		{"padding past the shortest form", "\x80\x00\x00\x00\x00\x00\x00\x00\x00"},
		{"padding not zero", "\x80\x00\x00\x00\x00\x00\x00\x01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { check(t, head+tt.body) })
	}
}

// pad pads a version-2 body to its shortest length with zero bytes.
func pad(b string) string { return b + strings.Repeat("\x00", max(0, minV2-len(b))) }

// FuzzDecodeClick: decoding any value after a stamp never panics, fails
// only with errCorrupt (which echoes nothing), never yields an invalid
// click or a raw address without a key, and a version-2 value that
// decodes re-encodes to the same bytes (the form is canonical).
func FuzzDecodeClick(f *testing.F) {
	c := clickstore.Click{
		Link: "promo", Time: time.Unix(1700000000, 5).UTC(), Visitor: clickstore.Pseudonym{1},
		Network: netip.MustParsePrefix("2001:db8::/48"), Country: "DE", Bot: "b", Referrer: "r.example", Device: "mobile",
	}
	st := stampOf(testRec)
	f.Add([]byte(testValue(f, c, 0, nil)[len(st):]))
	f.Add([]byte("tok-8byt" + pad("\x80\x00")))
	f.Fuzz(func(t *testing.T, b []byte) {
		k := keyOf(c)
		got, err := decodeValue(string(st[:])+string(b), k, nil)
		if err != nil {
			assert.ErrorIs(t, err, errCorrupt)
			return
		}
		require.NoError(t, got.Validate())
		assert.False(t, got.RawAddr.IsValid())
		if len(b) > tokenLen && b[tokenLen]&codecV2 != 0 {
			again, err := encodeClick(nil, got, k.rec, 0, nil)
			if got.Link != k.link || got.Visitor != k.visitor {
				t.Fatal("a version-2 value names the key's visitor and link")
			}
			if b[tokenLen]&hdrSealed != 0 {
				return // the sealed address is dropped without its key
			}
			require.NoError(t, err)
			assert.Equal(t, b[tokenLen:], again)
		}
	})
}

func TestSealedAddressDiesWithItsKey(t *testing.T) {
	c := clickstore.Click{
		Link: "x", Time: testRec, Visitor: clickstore.Pseudonym{1},
		Network: netip.MustParsePrefix("192.0.2.0/24"), RawAddr: netip.MustParseAddr("192.0.2.55"),
	}
	secret := [32]byte{9}
	v := testValue(t, c, 4, &secret)

	got, err := decodeValue(v, keyOf(c), func(e int64) ([32]byte, bool) { return secret, e == 4 })
	require.NoError(t, err)
	assert.Equal(t, c, got)

	gone, err := decodeValue(v, keyOf(c), func(int64) ([32]byte, bool) { return [32]byte{}, false })
	require.NoError(t, err)
	assert.False(t, gone.RawAddr.IsValid(), "without its key the address is lost")
	assert.Equal(t, c.Network, gone.Network)

	// A sealed address that does not authenticate fails with a fixed
	// error: nothing the cipher says, nothing of the value.
	const unsealed = "redisstore: corrupt click value: its sealed raw address does not authenticate"
	keep := func(int64) ([32]byte, bool) { return secret, true }
	other := keyOf(c)
	other.link = "y"
	_, err = decodeValue(v, other, keep)
	require.ErrorIs(t, err, errCorrupt, "a value moved to another marker must not open")
	assert.Equal(t, unsealed, err.Error())

	_, err = decodeValue(v, keyOf(c), func(int64) ([32]byte, bool) { return [32]byte{8}, true })
	require.ErrorIs(t, err, errCorrupt, "a value sealed under another secret must not open")
	assert.Equal(t, unsealed, err.Error())

	// The ciphertext (family, IPv4, GCM tag) is the value's last 1+4+16
	// bytes, as no field follows the sealed address here; flip each of
	// its bytes in turn, the length byte's before it and the nonce's.
	ct := len(v) - (1 + 4 + 16)
	for i := ct - 1 - 12; i < len(v); i++ {
		b := []byte(v)
		b[i] ^= 0x01
		_, err := decodeValue(string(b), keyOf(c), keep)
		require.ErrorIs(t, err, errCorrupt, "byte %d flipped", i)
		if i != ct-1 { // the length byte: a flip there breaks the structure
			assert.Equal(t, unsealed, err.Error(), "byte %d flipped", i)
		}
	}
}
