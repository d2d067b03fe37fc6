package clickstore

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/clickanon/clickanon/internal/hostaddr"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// Errors that callers branch on. Test for them with errors.Is: errors
// returned by this package and its stores wrap them with detail.
var (
	// ErrInvalidClick is wrapped by every error that rejects a Click (or a
	// Builder input) that breaks the rules of [Click.Validate].
	ErrInvalidClick = errors.New("invalid click")

	// ErrFull is returned by a Store that holds as many clicks as its
	// capacity allows. Stores never evict to make room: evicting a click
	// would count its visitor's next click as unique a second time.
	ErrFull = errors.New("store is full")

	// ErrClosed is returned by every method of a Store after Close.
	ErrClosed = errors.New("store is closed")
)

// Limits on the text fields of a [Click], in bytes. They keep a Click's
// footprint bounded whatever a client sends.
const (
	MaxLinkLen     = 256 // Link
	MaxReferrerLen = 253 // Referrer: a host name, at most 253 bytes in DNS
	MaxLabelLen    = 64  // Bot and Device
)

// Kind says what a [Click] records. The zero Kind is KindClick.
type Kind uint8

const (
	// KindClick is a visitor following a link. It is the zero Kind.
	KindClick Kind = iota
	// KindConversion is a later action (a pixel, a sign-up) attributed to
	// the visitor's latest click: its Link is that click's link. Stores
	// hold only clicks; conversions go to a [Sink].
	KindConversion
)

// String returns "click" or "conversion", or "Kind(N)" for other values.
func (k Kind) String() string {
	switch k {
	case KindClick:
		return "click"
	case KindConversion:
		return "conversion"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Pseudonym identifies a visitor within one key epoch: a keyed hash of the
// visitor's address and user agent (see the package documentation). It
// cannot be reversed, and once its epoch key is destroyed it cannot be
// recomputed either.
//
// A Pseudonym is a small comparable value. The zero Pseudonym means "none".
type Pseudonym [16]byte

// IsZero reports whether p is the zero Pseudonym.
func (p Pseudonym) IsZero() bool { return p == Pseudonym{} }

// String returns p as 32 lowercase hex digits.
func (p Pseudonym) String() string { return hex.EncodeToString(p[:]) }

// AppendText implements [encoding.TextAppender]: it appends p's 32 hex
// digits to b.
func (p Pseudonym) AppendText(b []byte) ([]byte, error) { return hex.AppendEncode(b, p[:]), nil }

// MarshalText implements [encoding.TextMarshaler].
func (p Pseudonym) MarshalText() ([]byte, error) { return p.AppendText(nil) }

// UnmarshalText implements [encoding.TextUnmarshaler]; it accepts what
// [Pseudonym.String] gives, in lower or upper case, and nothing else, as
// [ParsePseudonym] does. A nil p is an error.
func (p *Pseudonym) UnmarshalText(b []byte) error {
	if p == nil {
		return errors.New("clickstore: pseudonym: UnmarshalText into a nil *Pseudonym")
	}
	q, err := ParsePseudonym(string(b))
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// ParsePseudonym parses the 32 hex digits [Pseudonym.String] gives (upper
// case digits too). An
// error says what was wrong (the length, the position of a byte that is not
// a hex digit) without quoting s, which may be anything a client sent.
func ParsePseudonym(s string) (Pseudonym, error) {
	var p Pseudonym
	if len(s) != 2*len(p) {
		return Pseudonym{}, fmt.Errorf("clickstore: pseudonym of %d bytes: want %d hex digits", len(s), 2*len(p))
	}
	for i := range len(s) {
		if !isHex(s[i]) {
			return Pseudonym{}, fmt.Errorf("clickstore: pseudonym: byte %d of %d is not a hex digit", i+1, len(s))
		}
	}
	_, _ = hex.Decode(p[:], []byte(s)) // every byte is a hex digit: it cannot fail
	return p, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Uniqueness says whether a click was its visitor's first on its link within
// the retention window, as far as the [Store] could tell. The zero
// Uniqueness is UniqueUnknown.
type Uniqueness uint8

const (
	// UniqueUnknown means the store could not tell (it failed, or was
	// full). It is the zero Uniqueness: aggregates count the click but not
	// as a unique.
	UniqueUnknown Uniqueness = iota
	// Unique means no click of the visitor on the link was held.
	Unique
	// Repeat means a click of the visitor on the link was held.
	Repeat
)

// UniquenessOf converts the result of [Store.Record] to a Uniqueness:
// UniqueUnknown if err is not nil, else Unique or Repeat.
func UniquenessOf(first bool, err error) Uniqueness {
	switch {
	case err != nil:
		return UniqueUnknown
	case first:
		return Unique
	}
	return Repeat
}

// String returns "unknown", "unique" or "repeat", or "Uniqueness(N)".
func (u Uniqueness) String() string {
	switch u {
	case UniqueUnknown:
		return "unknown"
	case Unique:
		return "unique"
	case Repeat:
		return "repeat"
	}
	return fmt.Sprintf("Uniqueness(%d)", uint8(u))
}

// Click is what a service keeps about one click for the retention window.
//
// A Click is a small comparable value (strings, a time and fixed-size
// arrays; no slices, maps or pointers of its own), safe to copy. The zero
// Click is not valid: see [Click.Validate]. Build Clicks with a [Builder]
// and then set the optional attributes.
//
// A Click printed (String, any fmt verb, slog, encoding/json) shows its
// masked network and attributes but never its pseudonyms or RawAddr, and
// masks any address written in its text fields: it is safe to log, with
// slog or with a logger that writes values as JSON.
type Click struct {
	// Link identifies what was clicked (a short link's ID). Required, at
	// most MaxLinkLen bytes, and holding no IP address that ipmask.Default
	// would mask (an address masked to /24 or /48 may stay, as the
	// tracker leaves one in a link a visitor names): every store and sink
	// keeps it as given, so Validate refuses it.
	Link string

	// Time is when the click happened. Required. Stores keep the instant
	// (compare with Time.Equal), not the location or monotonic reading.
	Time time.Time

	// Kind is KindClick (the zero Kind) or KindConversion.
	Kind Kind

	// Visitor is the visitor's pseudonym under the current epoch key.
	// Required (not zero).
	Visitor Pseudonym

	// PrevVisitor is the same visitor's pseudonym under the previous
	// epoch's key, or zero if that key is gone. Stores use it only to
	// recognise the visitor across an epoch boundary: a held click whose
	// Visitor is this PrevVisitor is the same visitor's. Stores do not keep
	// it: a Click read back from a Store has a zero PrevVisitor.
	PrevVisitor Pseudonym

	// Network is the visitor's masked network, e.g. 192.0.2.0/24, as
	// [ipmask.Policy.Prefix] gives it. Required: a valid prefix with no
	// bits set after its length.
	Network netip.Prefix

	// RawAddr is the visitor's full address, kept only when the
	// [BuilderOptions.KeepRawAddr] option is on; otherwise the zero Addr.
	// When set it must lie within Network and carry no zone.
	RawAddr netip.Addr

	// Country is two upper-case ASCII letters, or "": an ISO 3166-1
	// alpha-2 code ("DE"), or one of the codes geo databases also give
	// (EU, AP, XK, ZZ). Validate checks the shape, not the list.
	Country string

	// Bot is a bot label ("googlebot"), or "" for a human or unknown
	// client. At most MaxLabelLen bytes, and, as Device, holding no IP
	// address ipmask.Default would mask and spelling none with dashes
	// (198-51-100-7), masked or not: Validate refuses it, and the tracker
	// drops such a label.
	Bot string

	// Referrer is the referring host ("news.example.com"), never a full
	// URL, or "". At most MaxReferrerLen bytes, and never a host that is
	// an IP address or spells one in its labels (198.51.100.7.nip.io,
	// ec2-198-51-100-7.compute-1.amazonaws.com, app-c6336407.nip.io), which
	// stores and sinks would keep as given: Validate refuses it (looking at
	// the host of a value written with a port or as a URL), and the
	// tracker drops it. Validate also refuses a Referrer that is not a
	// host name and holds an address ipmask.Default would mask anywhere,
	// as for Link.
	Referrer string

	// Device is a coarse device class ("mobile", "desktop"), or "". At most
	// MaxLabelLen bytes, holding no address as for Bot.
	Device string
}

// Validate reports whether c may be recorded: Link is 1 to MaxLinkLen bytes;
// Time is not zero and within the years 1678 to 2262 (where Unix nanoseconds
// fit an int64); Kind is KindClick or KindConversion; Visitor is not zero;
// Network is a valid, masked prefix; RawAddr, if set, lies in Network and
// has no zone; Country is "" or two upper-case ASCII letters; Bot, Device
// and Referrer fit their limits; and Link, Bot, Device and Referrer are
// valid UTF-8 without a NUL byte (text a database stores: PostgreSQL
// refuses anything else, and JSON would replace it); and Referrer is no
// IP address and spells none (see [Click].Referrer); Link, Bot, Device,
// and a Referrer that is not a host name, hold no IP address that
// ipmask.Default would mask, in any form package logmask finds one (a link
// may hold an address masked to /24 or /48), Link, Bot, Device and
// Referrer none percent-encoded (once, twice or three times:
// 198%2E51%2E100%2E7), and Bot
// and Device spell none with dashes (see [Click].Bot). An error wraps
// [ErrInvalidClick] and names the offending field and its fault (and a
// text field's length), never its value.
func (c Click) Validate() error {
	switch {
	case c.Link == "":
		return invalid("link", "empty")
	case len(c.Link) > MaxLinkLen:
		return tooLong("link", len(c.Link), MaxLinkLen)
	case c.Time.IsZero():
		return invalid("time", "zero")
	case c.Time.Before(minTime) || c.Time.After(maxTime):
		return invalid("time", "outside the years 1678 to 2262")
	case c.Kind > KindConversion:
		return invalid("kind", "unknown")
	case c.Visitor.IsZero():
		return invalid("visitor", "zero pseudonym")
	case !c.Network.IsValid():
		return invalid("network", "not a valid prefix")
	case c.Network.Masked() != c.Network:
		return invalid("network", fmt.Sprintf("has bits set after its length (%d)", c.Network.Bits()))
	case c.RawAddr.IsValid() && c.RawAddr.Zone() != "":
		return invalid("raw address", "has a zone")
	case c.RawAddr.IsValid() && !c.Network.Contains(c.RawAddr):
		return invalid("raw address", "not within network")
	case c.Country != "" && !isCountry(c.Country):
		return invalid("country", fmt.Sprintf("not two upper-case letters (%d bytes)", len(c.Country)))
	case len(c.Bot) > MaxLabelLen:
		return tooLong("bot", len(c.Bot), MaxLabelLen)
	case len(c.Device) > MaxLabelLen:
		return tooLong("device", len(c.Device), MaxLabelLen)
	case len(c.Referrer) > MaxReferrerLen:
		return tooLong("referrer", len(c.Referrer), MaxReferrerLen)
	}
	// One pass over each label tells text from the rest and finds the
	// bytes an address needs: most hold none and skip the address checks.
	link, linkSeen := scanText(c.Link)
	bot, botSeen := scanText(c.Bot)
	device, deviceSeen := scanText(c.Device)
	ref, refSeen := scanText(c.Referrer)
	switch {
	case !link:
		return invalid("link", notText)
	case !bot:
		return invalid("bot", notText)
	case !device:
		return invalid("device", notText)
	case !ref:
		return invalid("referrer", notText)
	case hostaddr.Referrer(c.Referrer):
		return invalid("referrer", "is an IP address or spells one")
	case refSeen&notHost != 0 && holdsAddr(c.Referrer):
		// Not a host name: any address in it, as for a link.
		return invalid("referrer", fmt.Sprintf("holds an IP address finer than ipmask.Default (%d bytes)", len(c.Referrer)))
	case refSeen&pctByte != 0 && encodedHoldsAddr(c.Referrer):
		return invalid("referrer", fmt.Sprintf("holds an IP address percent-encoded (%d bytes)", len(c.Referrer)))
	case linkSeen&(addrByte|dashByte) != 0 && holdsAddr(c.Link):
		return invalid("link", fmt.Sprintf("holds an IP address finer than ipmask.Default (%d bytes)", len(c.Link)))
	case linkSeen&pctByte != 0 && encodedHoldsAddr(c.Link):
		return invalid("link", fmt.Sprintf("holds an IP address percent-encoded (%d bytes)", len(c.Link)))
	case labelHoldsAddr(c.Bot, botSeen) || botSeen&pctByte != 0 && encodedHoldsAddr(c.Bot):
		return invalid("bot", fmt.Sprintf("holds or spells an IP address (%d bytes)", len(c.Bot)))
	case labelHoldsAddr(c.Device, deviceSeen) || deviceSeen&pctByte != 0 && encodedHoldsAddr(c.Device):
		return invalid("device", fmt.Sprintf("holds or spells an IP address (%d bytes)", len(c.Device)))
	}
	return nil
}

// holdsAddr reports whether s holds an address, in any form package
// logmask finds one (and ipmasktest looks for), that ipmask.Default would
// mask: an address already masked to it (198.51.100.0, as the tracker
// leaves one in a link) is not one. Text without a byte every such form
// needs (see hostaddr.MayHold) costs one pass over its bytes.
func holdsAddr(s string) bool {
	// Masking to the default policy changes s if and only if it holds
	// such an address, and costs no allocation when it does not.
	return hostaddr.MayHold(s) && defaultMasker.MaskString(s) != s
}

// encodedHoldsAddr reports whether s holds an address (see holdsAddr)
// once percent-decoded, up to hostaddr.MaxDecodes times: 198%2E51%2E100%2E77, or
// an address encoded twice, which logmask does not read. It decodes on
// the stack, without allocating, text of up to 512 bytes (links and
// labels, as a rule).
func encodedHoldsAddr(s string) bool {
	var arr [512]byte
	b := append(arr[:0], s...)
	for range hostaddr.MaxDecodes {
		n := hostaddr.PercentDecode(b)
		if n == len(b) {
			return false
		}
		b = b[:n]
		// A view of the buffer: holdsAddr keeps nothing of it.
		if holdsAddr(unsafe.String(unsafe.SliceData(b), len(b))) {
			return true
		}
	}
	return false
}

// defaultMasker masks addresses in text to ipmask.Default.
var defaultMasker = func() *logmask.Masker {
	m, err := logmask.NewMasker(ipmask.Default, nil)
	if err != nil {
		panic(err) // Default and nil Options are valid
	}
	return m
}()

// labelHoldsAddr reports whether a bot or device label holds an address
// (see holdsAddr) or spells one with dashes, masked or not, as a host
// name's label does (hostaddr.Labels): the rules by which the tracker
// drops a label. seen is what scanText found in s.
func labelHoldsAddr(s string, seen uint8) bool {
	return seen&addrByte != 0 && holdsAddr(s) || seen&dashByte != 0 && hostaddr.Labels(s)
}

const notText = "not valid UTF-8, or holds a NUL byte"

// IsText reports whether s is text a Click may carry in Link, Bot, Device
// and Referrer: valid UTF-8 without a NUL byte (see [Click.Validate]).
func IsText(s string) bool {
	// Eight bytes at a time while they are ASCII without a NUL, as labels
	// and links are as a rule; the rest the slow way.
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		v := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if v&hi != 0 || (v-lo)&^v&hi != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c == 0 || c >= utf8.RuneSelf {
			return c != 0 && utf8.ValidString(s[i:]) && strings.IndexByte(s[i:], 0) < 0
		}
	}
	return true
}

// The classes of bytes scanText reports.
const (
	notASCII = 1 << iota // a NUL or a byte past ASCII: text only if IsText says so
	addrByte             // what an address logmask finds needs (see hostaddr.MayHold)
	dashByte             // '-', which a host name's label spelling an address needs (ip-198-51-100-7)
	notHost              // a byte no host name has: not a letter, a digit, '.', '-' or '_'
	pctByte              // '%', which starts an escape an address may hide behind
)

// byteClass maps each byte to its classes.
var byteClass = func() (t [256]uint8) {
	for c := range 256 {
		if !('a' <= c|0x20 && c|0x20 <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			t[c] = notHost
		}
	}
	t[0] |= notASCII
	for c := utf8.RuneSelf; c < 256; c++ {
		t[c] |= notASCII
	}
	t[':'] |= addrByte
	t['%'] |= addrByte | pctByte
	t['<'] |= addrByte
	t['{'] |= addrByte
	t['.'] = addrByte
	t['-'] = dashByte
	return t
}()

// scanText reports whether s is text (see IsText) and the classes of
// the bytes it holds, in one pass with no branch per byte, so that a
// label or link with no byte an address needs skips the address checks.
func scanText(s string) (text bool, seen uint8) {
	i := 0
	for ; i+4 <= len(s); i += 4 {
		seen |= byteClass[s[i]] | byteClass[s[i+1]] | byteClass[s[i+2]] | byteClass[s[i+3]]
	}
	for ; i < len(s); i++ {
		seen |= byteClass[s[i]]
	}
	if seen&notASCII != 0 {
		return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0, seen
	}
	return true, seen
}

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

func isCountry(s string) bool {
	return len(s) == 2 && 'A' <= s[0] && s[0] <= 'Z' && 'A' <= s[1] && s[1] <= 'Z'
}

// invalid returns the error for a field of a Click that breaks a rule. It
// names the field and the fault, never the value: a link, a referrer or a
// network may carry a visitor's address.
func invalid(field, why string) error {
	return fmt.Errorf("clickstore: %s: %w: %s", field, ErrInvalidClick, why)
}

func tooLong(field string, n, max int) error {
	return invalid(field, fmt.Sprintf("%d bytes, longer than %d", n, max))
}
