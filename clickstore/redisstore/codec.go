package redisstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/clickanon/clickanon/clickstore"
)

// A marker's value is the recorded time (a 19-digit stamp, which the
// scripts compare), the request token (tokenLen bytes) and the click in a
// compact binary form. Version 2 of that form keeps only what the marker's
// key does not hold (the key holds the visitor and the link) and what the
// stamp does not (the recorded time):
//
//	header    1 byte: 0x80 (version 2; a version-1 value has 0x01 here),
//	          ORed with 0x40 raw address sealed, 0x20 time differs from
//	          the recorded time, 0x10 country, 0x08 bot, 0x04 referrer,
//	          0x02 device, 0x01 kind is KindConversion
//	time      if 0x20: the click's Unix nanoseconds minus the recorded
//	          time's, a zig-zag varint (wrapping, so every time fits)
//	network   1 byte: the prefix length for IPv4, 33 + the length for
//	          IPv6; then the address's first ceil(length/8) bytes (the
//	          rest are zero, as the network is masked)
//	raw       if 0x40: the key epoch (zig-zag varint), 12 bytes nonce,
//	          1 byte length, AES-256-GCM ciphertext of the address
//	country   if 0x10: 2 bytes
//	strings   bot, referrer, device, each if its flag is set: 1 byte
//	          length (not 0), bytes
//
// A typical click (an IPv4 /24, a country, the device class "mobile")
// takes 14 bytes, 16 to 18 when the click's time is not the store's
// recorded time (up to 24 for a time years away): TestTypicalValueLength.
// The masked network is stored; the raw address never is, except sealed.
//
// A shorter form is padded with zero bytes to minV2 bytes, so that the
// value has the 35 bytes that the version before this one checks for
// before it reads the recorded time and token (see the package
// documentation on a rolling upgrade).
//
// Version 1, written by earlier versions (the token was then 16 bytes),
// still decodes:
//
//	version   1 byte (1)
//	time      8 bytes seconds + 4 bytes nanoseconds, big-endian
//	kind      1 byte
//	visitor   16 bytes
//	network   1 byte prefix length, 1 byte family (4 or 6), 4 or 16 bytes
//	raw       1 byte: 0 none, 1 sealed; if sealed: 8 bytes key epoch,
//	          12 bytes nonce, 1 byte length, AES-256-GCM ciphertext
//	strings   link (2-byte length), country, bot, referrer, device
//	          (1-byte lengths)
const (
	codecV1 = 1
	codecV2 = 0x80
	minV2   = tokenLenV1 - tokenLen
)

// Header flags of version 2.
const (
	hdrSealed     = 0x40
	hdrTime       = 0x20
	hdrCountry    = 0x10
	hdrBot        = 0x08
	hdrReferrer   = 0x04
	hdrDevice     = 0x02
	hdrConversion = 0x01
)

// tokenLen is the length of the request token in a marker's value (16 in
// version 1 values); tokenLenV1 that of version 1.
const (
	tokenLen   = 8
	tokenLenV1 = 16
)

// sealInfo separates the raw-address sealing key from every other use of an
// epoch key.
const sealInfo = "clickanon/redisstore/rawaddr/v1"

// The codec's errors are fixed texts: nothing a cipher or a value says
// is carried into them, so none can echo a raw address (sealed or not).
var (
	errCorrupt = errors.New("redisstore: corrupt click value")
	// errUnsealed is a value whose structure parses but whose sealed raw
	// address does not authenticate: it was forged, garbled, moved to
	// another marker, or sealed under another secret for its epoch.
	errUnsealed = fmt.Errorf("%w: its sealed raw address does not authenticate", errCorrupt)
	// errCipher cannot happen (the key is always 32 bytes); it stands
	// in for whatever crypto/aes or crypto/cipher would say.
	errCipher = errors.New("redisstore: the raw-address cipher could not be set up")
)

// sealer seals raw addresses; key is the epoch key's secret.
func sealKey(secret [32]byte) []byte {
	m := hmac.New(sha256.New, secret[:])
	m.Write([]byte(sealInfo))
	return m.Sum(nil)
}

func newAEAD(secret [32]byte) (cipher.AEAD, error) {
	k := sealKey(secret)
	defer clear(k)
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, errCipher
	}
	aead, err := cipher.NewGCM(b)
	if err != nil {
		return nil, errCipher
	}
	return aead, nil
}

// clickKey is what a marker's key and stamp hold of its click: the
// visitor, the link and the recorded time (Unix nanoseconds).
type clickKey struct {
	visitor clickstore.Pseudonym
	link    string
	rec     int64
}

// encodeClick appends the version-2 form of c, recorded at rec (Unix
// nanoseconds), to b. If c.RawAddr is set, it is sealed
// with secret (from epoch), bound to c's visitor and link.
func encodeClick(b []byte, c clickstore.Click, rec int64, epoch int64, secret *[32]byte) ([]byte, error) {
	start := len(b)
	hdr := byte(codecV2)
	delta := int64(uint64(c.Time.UnixNano()) - uint64(rec))
	for _, f := range [...]struct {
		on  bool
		bit byte
	}{
		{c.RawAddr.IsValid(), hdrSealed}, {delta != 0, hdrTime}, {c.Country != "", hdrCountry},
		{c.Bot != "", hdrBot}, {c.Referrer != "", hdrReferrer}, {c.Device != "", hdrDevice},
		{c.Kind == clickstore.KindConversion, hdrConversion},
	} {
		if f.on {
			hdr |= f.bit
		}
	}
	b = append(b, hdr)
	if delta != 0 {
		b = binary.AppendVarint(b, delta)
	}
	bits := c.Network.Bits()
	a := c.Network.Addr()
	if a.Is4() {
		a4 := a.As4()
		b = append(append(b, byte(bits)), a4[:(bits+7)/8]...)
	} else {
		a16 := a.As16()
		b = append(append(b, byte(33+bits)), a16[:(bits+7)/8]...)
	}
	if c.RawAddr.IsValid() {
		if secret == nil {
			return nil, errors.New("redisstore: raw address set but no keyring configured")
		}
		var err error
		if b, err = seal(binary.AppendVarint(b, epoch), c.RawAddr, *secret, []byte(id(c.Visitor, c.Link))); err != nil {
			return nil, err
		}
	}
	if c.Country != "" {
		b = append(b, c.Country...)
	}
	for _, s := range [...]string{c.Bot, c.Referrer, c.Device} {
		if s != "" {
			b = append(append(b, byte(len(s))), s...)
		}
	}
	for len(b)-start < minV2 {
		b = append(b, 0)
	}
	return b, nil
}

// seal appends a nonce, the ciphertext's length and the ciphertext of a,
// sealed with secret and bound to ad, to b.
func seal(b []byte, a netip.Addr, secret [32]byte, ad []byte) ([]byte, error) {
	aead, err := newAEAD(secret)
	if err != nil {
		return nil, err
	}
	var nonce [12]byte
	rand.Read(nonce[:]) // never fails: crypto/rand crashes the program instead
	var plain [17]byte
	pt := appendAddr(plain[:0], a)
	b = append(b, nonce[:]...)
	b = append(b, byte(len(pt)+aead.Overhead()))
	b = aead.Seal(b, nonce[:], pt, ad)
	clear(plain[:])
	return b, nil
}

func appendAddr(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		a4 := a.As4()
		return append(append(b, 4), a4[:]...)
	}
	a16 := a.As16()
	return append(append(b, 6), a16[:]...)
}

// opener returns the key secret of an epoch, or false if it is gone.
type opener func(epoch int64) ([32]byte, bool)

// decodeValue parses a marker's value (recorded stamp, request token, the
// click in either version) held under the marker of k's visitor and link;
// k.rec is the value's recorded stamp. A sealed raw address whose key is
// gone (open gives false, or open is nil) is dropped: it died with its
// key.
func decodeValue(v string, k clickKey, open opener) (clickstore.Click, error) {
	switch h := len(stamp{}) + tokenLen; {
	case len(v) > h && v[h]&codecV2 != 0:
		return decodeClick([]byte(v[h:]), k, open)
	case len(v) > len(stamp{})+tokenLenV1:
		return decodeClickV1([]byte(v[len(stamp{})+tokenLenV1:]), open)
	}
	return clickstore.Click{}, errCorrupt
}

// decodeClick parses the version-2 form of a click held under k.
func decodeClick(b []byte, k clickKey, open opener) (clickstore.Click, error) {
	d := decoder{b: b}
	hdr := d.byte()
	if hdr&codecV2 == 0 || len(b) < minV2 {
		return clickstore.Click{}, errCorrupt
	}
	c := clickstore.Click{Link: k.link, Visitor: k.visitor}
	var delta int64
	if hdr&hdrTime != 0 {
		if delta = d.varint(); delta == 0 {
			d.err = true // not canonical
		}
	}
	c.Time = time.Unix(0, int64(uint64(k.rec)+uint64(delta))).UTC()
	if hdr&hdrConversion != 0 {
		c.Kind = clickstore.KindConversion
	}
	nb := int(d.byte())
	var a netip.Addr
	bits := nb
	switch {
	case nb <= 32:
		var a4 [4]byte
		copy(a4[:], d.bytes((nb+7)/8))
		a = netip.AddrFrom4(a4)
	case nb <= 33+128:
		bits = nb - 33
		var a16 [16]byte
		copy(a16[:], d.bytes((bits+7)/8))
		a = netip.AddrFrom16(a16)
	default:
		d.err = true
	}
	if c.Network = masked(a, bits); d.err || !c.Network.IsValid() {
		return clickstore.Click{}, errCorrupt
	}
	var sealed sealedAddr
	if hdr&hdrSealed != 0 {
		sealed = sealedAddr{epoch: d.varint(), nonce: d.bytes(12)}
		sealed.ct = d.bytes(int(d.byte()))
	}
	if hdr&hdrCountry != 0 {
		c.Country = string(d.bytes(2))
	}
	for _, f := range [...]struct {
		bit byte
		s   *string
	}{{hdrBot, &c.Bot}, {hdrReferrer, &c.Referrer}, {hdrDevice, &c.Device}} {
		if hdr&f.bit != 0 {
			n := int(d.byte())
			if n == 0 {
				d.err = true // not canonical
			}
			*f.s = string(d.bytes(n))
		}
	}
	if d.err || len(d.b) != 0 && (len(b) != minV2 || strings.Trim(string(d.b), "\x00") != "") {
		return clickstore.Click{}, errCorrupt
	}
	return finish(c, sealed, hdr&hdrSealed != 0, open)
}

// masked returns the prefix of a with bits bits, or the zero Prefix if
// that is not a valid prefix or a has bits set after it.
func masked(a netip.Addr, bits int) netip.Prefix {
	p, err := a.Prefix(bits)
	if err != nil || p != netip.PrefixFrom(a, bits) {
		return netip.Prefix{}
	}
	return p
}

// sealedAddr is a sealed raw address as stored.
type sealedAddr struct {
	epoch     int64
	nonce, ct []byte
}

// decodeClickV1 parses the version-1 form of a click.
func decodeClickV1(b []byte, open opener) (clickstore.Click, error) {
	var c clickstore.Click
	d := decoder{b: b}
	if d.byte() != codecV1 {
		return c, errCorrupt
	}
	sec := int64(d.uint64())
	nsec := d.uint32()
	if nsec >= 1e9 {
		return clickstore.Click{}, errCorrupt
	}
	c.Time = time.Unix(sec, int64(nsec)).UTC()
	c.Kind = clickstore.Kind(d.byte())
	copy(c.Visitor[:], d.bytes(16))
	bits := int(d.byte())
	a := d.addr()
	if c.Network = masked(a, bits); d.err || !c.Network.IsValid() {
		return clickstore.Click{}, errCorrupt
	}
	var sealed sealedAddr
	isSealed := false
	switch d.byte() {
	case 0: // no raw address
	case 1:
		isSealed = true
		sealed = sealedAddr{epoch: int64(d.uint64()), nonce: d.bytes(12)}
		sealed.ct = d.bytes(int(d.byte()))
	default:
		return clickstore.Click{}, errCorrupt
	}
	c.Link = string(d.bytes(int(d.uint16())))
	c.Country = string(d.bytes(int(d.byte())))
	c.Bot = string(d.bytes(int(d.byte())))
	c.Referrer = string(d.bytes(int(d.byte())))
	c.Device = string(d.bytes(int(d.byte())))
	if d.err || len(d.b) != 0 {
		return clickstore.Click{}, errCorrupt
	}
	return finish(c, sealed, isSealed, open)
}

// finish opens c's sealed raw address (if it has one and open still has
// its key) and checks c.
func finish(c clickstore.Click, sealed sealedAddr, isSealed bool, open opener) (clickstore.Click, error) {
	if c.Validate() != nil {
		return clickstore.Click{}, errCorrupt
	}
	if !isSealed || open == nil {
		return c, nil
	}
	secret, ok := open(sealed.epoch)
	if !ok {
		return c, nil
	}
	aead, err := newAEAD(secret)
	clear(secret[:])
	if err != nil {
		return clickstore.Click{}, err
	}
	if len(sealed.nonce) != aead.NonceSize() {
		return clickstore.Click{}, errCorrupt
	}
	pt, err := aead.Open(nil, sealed.nonce, sealed.ct, []byte(id(c.Visitor, c.Link)))
	if err != nil {
		return clickstore.Click{}, errUnsealed
	}
	pd := decoder{b: pt}
	c.RawAddr = pd.addr()
	clear(pt)
	if pd.err || len(pd.b) != 0 {
		return clickstore.Click{}, errCorrupt
	}
	return c, nil
}

type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) bytes(n int) []byte {
	if d.err || n > len(d.b) {
		d.err = true
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	v := d.bytes(1)
	if v == nil {
		return 0
	}
	return v[0]
}

func (d *decoder) uint16() uint16 {
	v := d.bytes(2)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}

func (d *decoder) uint32() uint32 {
	v := d.bytes(4)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func (d *decoder) uint64() uint64 {
	v := d.bytes(8)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// varint reads a zig-zag varint in its shortest form.
func (d *decoder) varint() int64 {
	if d.err {
		return 0
	}
	v, n := binary.Varint(d.b)
	var tmp [binary.MaxVarintLen64]byte
	if n <= 0 || n != len(binary.AppendVarint(tmp[:0], v)) {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) addr() netip.Addr {
	switch d.byte() {
	case 4:
		if v := d.bytes(4); v != nil {
			return netip.AddrFrom4([4]byte(v))
		}
	case 6:
		if v := d.bytes(16); v != nil {
			return netip.AddrFrom16([16]byte(v))
		}
	}
	d.err = true
	return netip.Addr{}
}
