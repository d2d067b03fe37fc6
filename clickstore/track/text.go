package track

import (
	"net/url"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/internal/hostaddr"
	"github.com/clickanon/clickanon/ipmask"
)

// queryParam returns the first value of key in the raw query, as
// url.Values.Get would, without building the map: it allocates only to
// unescape a key or value that needs it.
func queryParam(raw, key string) string {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") {
			var err error
			if k, err = url.QueryUnescape(k); err != nil {
				continue
			}
		}
		if k != key {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			var err error
			if v, err = url.QueryUnescape(v); err != nil {
				continue
			}
		}
		return v
	}
	return ""
}

func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}

// wildcardName reports whether s can name a ServeMux path wildcard: a Go
// identifier.
func wildcardName(s string) bool {
	for i, c := range s {
		if !unicode.IsLetter(c) && c != '_' && (i == 0 || !unicode.IsDigit(c)) {
			return false
		}
	}
	return s != ""
}

// trimSpace trims ASCII spaces and tabs, the only blanks a header value
// may carry at its ends.
func trimSpace(s string) string { return strings.Trim(s, " \t") }

// truncate returns s cut to at most n bytes, never inside a rune.
func truncate(s string, n int) string {
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n-- // not into a rune
		}
		return s[:n]
	}
	return s
}

// addrText finds addresses in labels and links: mask is the tracker's
// logmask masker, which finds an address in every form logs and URLs
// write it (dotted, IPv6 in any spelling, with a port, in brackets,
// percent-encoded) and masks it to the tracker's policy.
type addrText struct{ mask func(string) string }

// maskEncoded masks the addresses link holds percent-encoded, which the
// masker does not read (198%2E51%2E100%2E77, %31%39%38..., or anything
// encoded twice, as /out/198%252E51... arrives once the server has
// decoded the path): each part of it between '/', '?', '&', '=' and '#'
// that holds an address once, twice or up to hostaddr.MaxDecodes times
// decoded (a '%' that starts no escape is left as it is) is replaced by
// its text decoded as far as it goes, masked and escaped again. That is
// the rule by which every store refuses a link (clickstore.Click.Validate
// looks at each stage of decoding, since an address can show at one
// stage and be gone at the next: 70%3A%253A1 decodes to 70:%3A1, which
// logmask reads as 70::1, and then to 70::1... or, with a letter before
// it, to text that holds none). Parts without one, and a link without
// any, are kept as they are, and cost no allocation: parts are decoded
// into a pooled buffer.
func (a addrText) maskEncoded(link string) string {
	// Decoding as far as it goes and escaping once more takes up to
	// hostaddr.MaxDecodes levels of escape off what remains, so a few
	// rounds reach text no stage of which holds an address. Text still
	// holding one after them (escapes nested past any real URL's) keeps
	// no escape at all: its '%' signs become '_'.
	for range maxEncodedRounds {
		m, changed := a.maskEncodedOnce(link)
		if !changed {
			return link
		}
		// Escaping the masked text again can write what the masker
		// reads as an address: ":: " escaped is "::%20", the address ::
		// with a zone. Masked once more (masking is idempotent).
		link = a.mask(m)
	}
	if _, changed := a.maskEncodedOnce(link); !changed {
		return link
	}
	return a.mask(strings.ReplaceAll(link, "%", "_"))
}

// maxEncodedRounds bounds maskEncoded's rounds.
const maxEncodedRounds = 4

// maskEncodedOnce is one round of maskEncoded: link with every part that
// holds an address at some stage of decoding replaced, and whether any
// was.
func (a addrText) maskEncodedOnce(link string) (string, bool) {
	bp := decodeBufs.Get().(*[]byte)
	defer decodeBufs.Put(bp)
	var out []byte // the masked link, made at the first change
	start := 0
	for i := 0; i <= len(link); i++ {
		if i < len(link) && strings.IndexByte("/?&=#", link[i]) < 0 {
			continue
		}
		part := link[start:i]
		if m, ok := a.maskDecoded(part, bp); ok {
			if out == nil {
				out = append(make([]byte, 0, len(link)+16), link[:start]...)
			}
			out = append(out, m...)
		} else if out != nil {
			out = append(out, part...)
		}
		if out != nil && i < len(link) {
			out = append(out, link[i])
		}
		start = i + 1
	}
	if out == nil {
		return link, false
	}
	return string(out), true
}

// decodeBufs holds the buffers maskEncoded decodes parts into.
var decodeBufs = sync.Pool{New: func() any { return new([]byte) }}

// maskDecoded decodes part into *bp, up to hostaddr.MaxDecodes times, and
// if the text held an address at any of those stages it returns the text
// decoded as far as it goes, masked and escaped again, and true; else
// false.
func (a addrText) maskDecoded(part string, bp *[]byte) (string, bool) {
	if strings.IndexByte(part, '%') < 0 {
		return "", false
	}
	buf := append((*bp)[:0], part...)
	held := false
	masked := "" // the last stage masked, when masking changed it
	for range hostaddr.MaxDecodes {
		n := hostaddr.PercentDecode(buf)
		if n == len(buf) {
			break
		}
		buf = buf[:n]
		// A view of the buffer: the masker returns it unchanged, or new
		// text.
		d := unsafe.String(unsafe.SliceData(buf), len(buf))
		masked = ""
		if hostaddr.MayHold(d) {
			if m := a.mask(d); m != d {
				held, masked = true, m
			}
		}
	}
	*bp = buf[:0] // keeps what the buffer grew to
	if !held {
		return "", false
	}
	if masked == "" {
		masked = string(buf) // the last stage held none: a copy, buf is pooled
	}
	return url.PathEscape(masked), true
}

// textPolicy is the policy addresses in links and labels are masked to:
// the tracker's, or ipmask.Default's bit counts where it keeps more, since
// every store and sink refuses a link or label that holds an address
// finer than ipmask.Default would keep (clickstore.Click.Validate).
func textPolicy(p ipmask.Policy) ipmask.Policy {
	q, err := ipmask.New(min(p.IPv4Bits(), ipmask.Default.IPv4Bits()), min(p.IPv6Bits(), ipmask.Default.IPv6Bits()))
	if err != nil {
		return ipmask.Policy{} // unreachable: the counts are in range; the zero Policy keeps nothing
	}
	return q
}

// spells reports whether the label s holds an address: one the masker
// would change (an address that is already masked is the policy's, and
// stays), one percent-encoded (see maskEncoded), or one written with
// dashes for dots or colons, as host names spell them (see
// hostaddr.Labels).
func (a addrText) spells(s string) bool {
	if hostaddr.MayHold(s) && a.mask(s) != s {
		return true
	}
	if strings.IndexByte(s, '%') >= 0 && a.maskEncoded(s) != s {
		return true // percent-encoded
	}
	return strings.IndexByte(s, '-') >= 0 && hostaddr.Labels(s)
}

// bot returns the bot label a click keeps: l cut to MaxLabelLen, or
// LabelBot when l is not text or spells an address, so that a bot stays a
// bot.
func (a addrText) bot(l string) string {
	if l == "" {
		return ""
	}
	c := truncate(l, clickstore.MaxLabelLen)
	if !clickstore.IsText(c) || a.spells(l) || (len(c) < len(l) && a.spells(c)) {
		return LabelBot
	}
	return c
}

// device returns the device class a click keeps: l, or "" when it is too
// long, not text or spells an address.
func (a addrText) device(l string) string {
	if len(l) > clickstore.MaxLabelLen || !clickstore.IsText(l) || a.spells(l) {
		return ""
	}
	return l
}

// referrerHost returns the host of a Referer header value, lower-cased,
// without port or user info, or "" when there is none. It allocates only
// when the host has upper-case letters.
func referrerHost(ref string) string {
	i := 0
	for i < len(ref) && ref[i] != ':' && ref[i] != '/' {
		i++
	}
	if i+3 > len(ref) || ref[i:i+3] != "://" {
		return "" // not an absolute URL: android-app:// and the like still pass
	}
	// One pass over the authority, which ends at the path, query or
	// fragment: the host is what follows its last '@' (user info) up to
	// the first ':' after that (the port), and only the host's bytes are
	// looked at.
	start, end := i+3, -1
	upper, bad := false, false
	j := start
scan:
	for ; j < len(ref); j++ {
		switch c := ref[j]; {
		case 'a' <= c && c <= 'z', c == '_', c == '.', '0' <= c && c <= '9', c == '-':
		case c == '/', c == '?', c == '#':
			break scan
		case c == '@':
			start, end = j+1, -1
			upper, bad = false, false
		case end >= 0:
			// the port, or user info before an '@'
		case c == ':':
			end = j
		case 'A' <= c && c <= 'Z':
			upper = true
		default:
			// Not a host name (and nothing a spreadsheet could run); an
			// IPv6 literal's '[' is caught here: an address, never kept.
			bad = true
		}
	}
	if end < 0 {
		end = j
	}
	host := ref[start:end]
	if bad || len(host) > clickstore.MaxReferrerLen {
		return ""
	}
	if hostaddr.Host(host) {
		return "" // an address, not a host name: never keep it
	}
	if upper {
		b := []byte(host)
		for k := range b {
			b[k] = lower(b[k])
		}
		return string(b)
	}
	return host
}

// countryCode returns a code of two ASCII letters in upper case (an ISO
// 3166-1 alpha-2 code, or EU, AP, XK, ZZ as geo databases give them), or
// "" for anything that is not two ASCII letters.
func countryCode(s string) string {
	if len(s) != 2 {
		return ""
	}
	a, b := s[0]&^0x20, s[1]&^0x20 // ASCII upper case
	if a < 'A' || a > 'Z' || b < 'A' || b > 'Z' {
		return ""
	}
	if a == s[0] && b == s[1] {
		return s
	}
	return string([]byte{a, b})
}
