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
	"time"

	"github.com/clickanon/clickanon/clickstore"
)

// The value of a held click (field "c" of its hash) is a compact binary
// form, version 1:
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
//
// The masked network is stored; the raw address never is, except sealed.
const codecVersion = 1

// sealInfo separates the raw-address sealing key from every other use of an
// epoch key.
const sealInfo = "clickanon/redisstore/rawaddr/v1"

var errCorrupt = errors.New("redisstore: corrupt click value")

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
		return nil, err
	}
	return cipher.NewGCM(b)
}

// encodeClick appends c's binary form to b. If c.RawAddr is set, it is
// sealed with secret (from epoch), bound to ad.
func encodeClick(b []byte, c clickstore.Click, epoch int64, secret *[32]byte, ad []byte) ([]byte, error) {
	b = append(b, codecVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Time.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(c.Time.Nanosecond()))
	b = append(b, byte(c.Kind))
	b = append(b, c.Visitor[:]...)
	b = append(b, byte(c.Network.Bits()))
	b = appendAddr(b, c.Network.Addr())
	if c.RawAddr.IsValid() {
		if secret == nil {
			return nil, errors.New("redisstore: raw address set but no keyring configured")
		}
		aead, err := newAEAD(*secret)
		if err != nil {
			return nil, fmt.Errorf("redisstore: sealing the raw address: %v", err)
		}
		var nonce [12]byte
		if _, err := rand.Read(nonce[:]); err != nil {
			return nil, fmt.Errorf("redisstore: sealing the raw address: %v", err)
		}
		var plain [17]byte
		pt := appendAddr(plain[:0], c.RawAddr)
		b = append(b, 1)
		b = binary.BigEndian.AppendUint64(b, uint64(epoch))
		b = append(b, nonce[:]...)
		b = append(b, byte(len(pt)+aead.Overhead()))
		b = aead.Seal(b, nonce[:], pt, ad)
		clear(plain[:])
	} else {
		b = append(b, 0)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.Link)))
	b = append(b, c.Link...)
	for _, s := range [...]string{c.Country, c.Bot, c.Referrer, c.Device} {
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
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

// decodeClick parses the binary form. A sealed raw address whose key is
// gone (open gives false) is dropped: it died with its key.
func decodeClick(b []byte, open opener, ad []byte) (clickstore.Click, error) {
	var c clickstore.Click
	d := decoder{b: b}
	if d.byte() != codecVersion {
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
	if d.err {
		return clickstore.Click{}, errCorrupt
	}
	p, err := a.Prefix(bits)
	if err != nil || p != netip.PrefixFrom(a, bits) {
		return clickstore.Click{}, errCorrupt
	}
	c.Network = p
	switch d.byte() {
	case 0: // no raw address
	case 1:
		epoch := int64(d.uint64())
		nonce := d.bytes(12)
		ct := d.bytes(int(d.byte()))
		if d.err {
			return clickstore.Click{}, errCorrupt
		}
		if open != nil {
			if secret, ok := open(epoch); ok {
				aead, err := newAEAD(secret)
				clear(secret[:])
				if err != nil {
					return clickstore.Click{}, fmt.Errorf("redisstore: opening a raw address: %v", err)
				}
				pt, err := aead.Open(nil, nonce, ct, ad)
				if err != nil {
					return clickstore.Click{}, fmt.Errorf("redisstore: opening a raw address: %v", err)
				}
				pd := decoder{b: pt}
				c.RawAddr = pd.addr()
				clear(pt)
				if pd.err {
					return clickstore.Click{}, errCorrupt
				}
			}
		}
	default:
		return clickstore.Click{}, errCorrupt
	}
	c.Link = string(d.bytes(int(d.uint16())))
	c.Country = string(d.bytes(int(d.byte())))
	c.Bot = string(d.bytes(int(d.byte())))
	c.Referrer = string(d.bytes(int(d.byte())))
	c.Device = string(d.bytes(int(d.byte())))
	if d.err || len(d.b) != 0 || c.Validate() != nil {
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
