package clientip

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/clickanon/clickanon/ipmask"
)

// Removing the headers that are an address, or a list that begins or ends
// with one, leaves those that carry the client's address inside other
// text: a proxy's own header ("X-ClientSide: 192.0.2.1:51234 ->
// 10.0.0.5:443"), key-value pairs ("ip=192.0.2.1; country=DE"), JSON, a
// cookie an application set from the address, a query string or a path
// the client itself wrote ("?ip=2001%3Adb8%3A%3A1"). Such headers cannot be
// removed (the Cookie, the Referer), and looking for every address in
// every value would cost a scan of every byte and find addresses in a
// browser's version ("Chrome/142.0.0.0"). So the middleware looks for one
// address, the client's own, the one it resolved, and masks it where it
// finds it: for an IPv4 client, one strings.Index per value for its
// dotted text; for an IPv6 one, two IndexByte per value for a ':' or a '%',
// and a parse of the text of hex digits, dots and colons around each.

// ownAddr is the client's full address, looked for in text, and what
// replaces it.
type ownAddr struct {
	full   netip.Addr // unmapped, without a zone; invalid: nothing is looked for
	dotted string     // the text looked for in place of full's own, or ""
	min    int        // the length of the shortest text of full, its canonical text
	p      ipmask.Policy
	// text[:min] is the dotted text of an IPv4 full, written once a
	// request (see middleware.own) for every search: most requests hold a
	// value long enough to look in (a browser's User-Agent), many hold
	// several. It is an array, not a string pointing into one, so that
	// the ownAddr stays on its caller's stack.
	text [dottedRoom]byte
}

// maxOwnText bounds the text examined around a ':' for an IPv6 address:
// the longest form, expanded with an IPv4 tail and its seven colons
// percent-encoded.
const maxOwnText = len("ffff%3Affff%3Affff%3Affff%3Affff%3Affff%3A255.255.255.255") + 16

// next returns where the next occurrence of o.full in s at or after from
// is, s[i:j], and whether its colons are percent-encoded, or i < 0.
// The position of the next '%' is kept in *pct between calls (-1 before
// the first), so that text with many colons and no '%' is not searched to
// its end for one at each colon.
func (o *ownAddr) next(s string, from int, pct *int) (i, j int, enc bool) {
	if o.dotted != "" {
		return nextDotted(s, o.dotted, from)
	}
	if o.full.Is4() {
		return nextDotted(s, unsafe.String(&o.text[0], o.min), from)
	}
	for from < len(s) {
		if *pct < from {
			*pct = len(s)
			if p := strings.IndexByte(s[from:], '%'); p >= 0 {
				*pct = from + p
			}
		}
		a := *pct
		if k := strings.IndexByte(s[from:*pct], ':'); k >= 0 {
			a = from + k
		}
		if a == len(s) {
			break
		}
		i, j := a, a
		for i > from && isOwnTextByte(s[i-1]) {
			i--
		}
		for j < len(s) && isOwnTextByte(s[j]) {
			j++
		}
		if pi, pj, enc := o.inToken(s, i, j); pi >= 0 {
			return pi, pj, enc
		}
		from = j + 1
	}
	return -1, -1, false
}

// nextDotted returns where the dotted IPv4 text d occurs in s at or after
// from, not beside another digit (192.0.2.1 is not in 192.0.2.10), or i < 0.
// A digit before it that ends a percent-escape ("%20192.0.2.1") is no digit
// of the address.
func nextDotted(s, d string, from int) (i, j int, enc bool) {
	for from <= len(s)-len(d) {
		k := strings.Index(s[from:], d)
		if k < 0 {
			break
		}
		i, j := from+k, from+k+len(d)
		before := i == 0 || !isDigit(s[i-1]) || i >= 3 && s[i-3] == '%' && isHex(s[i-2])
		if before && (j == len(s) || !isDigit(s[j])) {
			return i, j, false
		}
		from = i + 1
	}
	return -1, -1, false
}

// inToken looks for o.full in s[i:j], a run of hex digits, dots, colons
// and percent-escapes: it splits the run at every escape but "%3A" (a
// zone's "%25", "%5B" and "%5D" for brackets, "%20"), and parses each part
// with its "%3A" read as ':'. A part may carry a ':' or a hex word before
// the address ("ip:2001:db8::1"), or a ':' or a '.' after it.
func (o *ownAddr) inToken(s string, i, j int) (pi, pj int, enc bool) {
	for p := i; p < j; {
		q, hasEnc := p, false
		for q < j {
			if s[q] != '%' {
				q++
				continue
			}
			if q+2 < j && s[q+1] == '3' && (s[q+2] == 'A' || s[q+2] == 'a') {
				hasEnc = true
				q += 3
				continue
			}
			break
		}
		if a, b, ok := o.matchPart(s, p, q, hasEnc); ok {
			return a, b, hasEnc
		}
		// Past the escape that ended the part ('%' and two more bytes).
		p = q + 1
		if p < j && s[q] == '%' {
			p = min(q+3, j)
		}
	}
	return -1, -1, false
}

// matchPart reports whether s[p:q], its "%3A" read as ':' when enc, is
// o.full, with at most a ':' or a hex word and a ':' before it, and a ':'
// or '.' after it, and returns the bounds of the address's text.
func (o *ownAddr) matchPart(s string, p, q int, enc bool) (int, int, bool) {
	if q-p < o.min || q-p > maxOwnText {
		return 0, 0, false // shorter than the shortest text of o.full, or too long
	}
	var buf [maxOwnText]byte
	var at [maxOwnText]int32 // at[k]: where buf[k] came from in s
	n := 0
	for k := p; k < q; n++ {
		at[n] = int32(k)
		if enc && s[k] == '%' {
			buf[n] = ':'
			k += 3
			continue
		}
		buf[n] = s[k]
		k++
	}
	t := buf[:n]
	if n < o.min {
		return 0, 0, false // shorter than the shortest text of o.full
	}
	// Trim what may stand beside the address: a single ':' or a '.' after
	// it, a single ':' before it; then try it with a hex word and its ':'
	// cut from its start, and with a ":port" cut from its end.
	end := len(t)
	for end > 0 && (t[end-1] == '.' || t[end-1] == ':' && (end < 2 || t[end-2] != ':')) {
		end--
	}
	b0 := 0
	if len(t) > 1 && t[0] == ':' && t[1] != ':' {
		b0 = 1
	}
	if end-b0 < len("::") {
		return 0, 0, false
	}
	starts, ends := [2]int{b0, -1}, [2]int{end, -1}
	if c := bytes.IndexByte(t[b0:end], ':'); c > 0 && b0+c+1 < end && t[b0+c+1] != ':' {
		starts[1] = b0 + c + 1
	}
	if c := bytes.LastIndexByte(t[b0:end], ':'); c > 0 && t[b0+c-1] != ':' {
		ends[1] = b0 + c
	}
	for _, b := range starts {
		for _, e := range ends {
			if b < 0 || e-b < o.min || !o.is(t[b:e]) {
				continue
			}
			endAt := q
			if e < n {
				endAt = int(at[e])
			}
			return int(at[b]), endAt, true
		}
	}
	return 0, 0, false
}

// is reports whether t, hex digits, dots and colons, is the text of
// o.full, an IPv6 address.
func (o *ownAddr) is(t []byte) bool {
	a, ok := parseIPv6(t)
	return ok && a == o.full.As16()
}

// parseIPv6 parses t as IPv6 text, as netip.ParseAddr does but without a
// zone and without allocating (its error allocates): groups of one to
// four hex digits in either case, at most one "::", and a dotted IPv4
// tail in the last 32 bits (whose fields may have leading zeros).
func parseIPv6(t []byte) (ip [16]byte, ok bool) {
	ellipsis, n, i := -1, 0, 0
	if len(t) >= 2 && t[0] == ':' && t[1] == ':' {
		ellipsis, i = 0, 2
	}
	for i < len(t) && n < 16 {
		v, d := 0, 0
		for ; i+d < len(t) && d < 5 && isHex(t[i+d]); d++ {
			v = v<<4 | int(unhex(t[i+d]))
		}
		if d == 0 || d > 4 {
			return ip, false
		}
		if i+d < len(t) && t[i+d] == '.' {
			if n > 12 || ellipsis < 0 && n != 12 || !looseIPv4(t[i:], (*[4]byte)(ip[n:n+4])) {
				return ip, false
			}
			n, i = n+4, len(t)
			break
		}
		ip[n], ip[n+1] = byte(v>>8), byte(v)
		n, i = n+2, i+d
		if i == len(t) {
			break
		}
		if t[i] != ':' || i+1 == len(t) {
			return ip, false
		}
		i++
		if t[i] == ':' {
			if ellipsis >= 0 {
				return ip, false
			}
			ellipsis = n
			i++
		}
	}
	switch {
	case i != len(t):
		return ip, false
	case ellipsis < 0:
		return ip, n == 16
	case n == 16:
		return ip, false
	}
	tail := n - ellipsis
	copy(ip[16-tail:], ip[ellipsis:n])
	clear(ip[ellipsis : 16-tail])
	return ip, true
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// isOwnTextByte reports whether c can be part of an IPv6 address's text
// as isAddrText finds it in a value: a hex digit, a dot, a colon, or the
// '%' of an escape.
func isOwnTextByte(c byte) bool {
	return class[c]&(hex|sep) != 0 || c == '%'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// hasIn reports whether s holds o.full.
func (o *ownAddr) hasIn(s string) bool {
	if o.dotted == "" && o.full.Is4() { // the search next makes, one call nearer
		i, _, _ := nextDotted(s, unsafe.String(&o.text[0], o.min), 0)
		return i >= 0
	}
	pct := -1
	i, _, _ := o.next(s, 0, &pct)
	return i >= 0
}

// mask returns s with every occurrence of o.full replaced by the text of
// its mask (its colons percent-encoded where the occurrence's were), and
// whether there was one. It allocates only then. Inlined, it rejects short
// text without a call.
func (o *ownAddr) mask(s string) (string, bool) {
	if len(s) < o.min {
		return s, false
	}
	return o.maskAll(s)
}

func (o *ownAddr) maskAll(s string) (string, bool) {
	pct := -1
	i, j, enc := o.next(s, 0, &pct)
	if i < 0 {
		return s, false
	}
	var m [len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")]byte
	plain := o.p.Mask(o.full).AppendTo(m[:0])
	var b strings.Builder
	b.Grow(len(s) + 2*len(plain))
	last := 0
	for i >= 0 {
		b.WriteString(s[last:i])
		for _, c := range plain {
			if c == ':' && enc {
				b.WriteString("%3A")
			} else {
				b.WriteByte(c)
			}
		}
		last = j
		i, j, enc = o.next(s, j, &pct)
	}
	b.WriteString(s[last:])
	return b.String(), true
}

// maskHeader masks o.full in vv, the values of r.Header[k], but in the
// headers that name the server (Host, X-Forwarded-Host, X-Original-Host),
// and in Origin and Referer when the request's Host is the client's own
// address ([ownAddr.namesOwnServer]).
func (o *ownAddr) maskHeader(r *http.Request, k string, vv []string) {
	if isServerHeader(k) || (len(k) == len("origin") && foldEqual(k, "origin") || len(k) == len("referer") && foldEqual(k, "referer")) && o.namesOwnServer(r) {
		return
	}
	o.maskKey(r.Header, k, vv)
}

// maskValues masks o.full in every value of h (a parsed form's values,
// or a file's part header) and in its names: a name that holds it is
// replaced by its masked text, which then holds its values too (after
// those it had).
func (o *ownAddr) maskValues(h map[string][]string) {
	for k, vv := range h {
		o.maskKey(h, k, vv)
	}
	maskNames(o, h)
}

// maskNames replaces every name of h that holds o.full by its masked
// text, which then holds its values too (after those it had, in a slice
// of its own).
func maskNames[V any](o *ownAddr, h map[string][]V) {
	var renamed []string // allocated only when a name holds the address
	for k := range h {
		if len(k) >= o.min && o.hasIn(k) {
			renamed = append(renamed, k)
		}
	}
	for _, k := range renamed {
		m, _ := o.mask(k)
		h[m] = append(slices.Clip(h[m]), h[k]...)
		delete(h, k)
	}
}

// maskKey masks o.full in vv, the values of h[k], replacing the slice by
// a copy when it changes one, so that a slice shared with another map
// keeps its values.
func (o *ownAddr) maskKey(h map[string][]string, k string, vv []string) {
	for n, v := range vv {
		w, ok := o.mask(v)
		if !ok {
			continue
		}
		c := make([]string, len(vv))
		copy(c, vv)
		c[n] = w
		for m := n + 1; m < len(c); m++ {
			c[m], _ = o.mask(c[m])
		}
		h[k] = c
		return
	}
}

// maskURL masks o.full in the request's method, its URL (its path, raw
// path, query, fragment and userinfo), RequestURI and path values, and in
// the forms already parsed, names and files too (trailers are headers:
// see headerSet.hideIn).
// The URL is replaced by a copy when it changes.
func (o *ownAddr) maskURL(r *http.Request) {
	// The method too, a token that digits, dots and '%' may spell, and
	// the first word of every access log line; real ones are short. A
	// field is written only when it changes.
	if m, ok := o.mask(r.Method); ok {
		r.Method = m
	}
	uri, inURI := o.maskEscaped(r.RequestURI)
	if u := r.URL; u != nil && (max(len(u.Path), len(u.RawPath), len(u.RawQuery), len(u.Fragment), len(u.RawFragment), len(u.Opaque)) >= o.min || u.User != nil) {
		// Most requests' URLs are shorter than the address's text, and
		// have no userinfo (only an absolute-form target can).
		user, us := o.maskUser(u.User)
		path, p1 := o.mask(u.Path)
		rawPath, p2 := o.maskEscaped(u.RawPath)
		query, q := o.maskEscaped(u.RawQuery)
		frag, f1 := o.mask(u.Fragment)
		rawFrag, f2 := o.maskEscaped(u.RawFragment)
		opaque, op := o.mask(u.Opaque)
		if p1 && !p2 {
			// The raw path writes the address in a form not looked for
			// ("198%2E51%2E100%2E7"), which the path decoded: it no longer
			// encodes the path, and goes.
			rawPath = ""
		}
		if p1 || p2 || q || f1 || f2 || op || us {
			c := *u
			c.Path, c.RawPath, c.RawQuery, c.Fragment, c.RawFragment, c.Opaque, c.User = path, rawPath, query, frag, rawFrag, opaque, user
			r.URL = &c
			if (p1 || us) && !inURI && uri != "" {
				// Likewise RequestURI (whose userinfo may be encoded as
				// its path can): it is written again from the URL.
				if uri[0] == '/' {
					uri = c.RequestURI()
				} else {
					uri = c.String()
				}
				inURI = true
			}
		}
		if p1 || p2 {
			o.maskPathValues(r)
		}
	}
	if inURI {
		r.RequestURI = uri
	}
	if r.Form != nil {
		o.maskValues(r.Form)
	}
	if r.PostForm != nil {
		o.maskValues(r.PostForm)
	}
	if f := r.MultipartForm; f != nil {
		if f.Value != nil {
			o.maskValues(f.Value)
		}
		if f.File != nil {
			for _, fhs := range f.File {
				for _, fh := range fhs {
					fh.Filename, _ = o.mask(fh.Filename)
					o.maskValues(fh.Header)
				}
			}
			maskNames(o, f.File)
		}
	}
}

// maskUser masks o.full in a URL's userinfo: in its user and password
// read as one text ("2001:db8::1@" is the user "2001" and the password
// "db8::1"), split again at the first colon.
func (o *ownAddr) maskUser(u *url.Userinfo) (*url.Userinfo, bool) {
	if u == nil {
		return nil, false
	}
	text := u.Username()
	pass, hasPass := u.Password()
	if hasPass {
		text += ":" + pass
	}
	m, ok := o.mask(text)
	switch {
	case !ok:
		return u, false
	case hasPass:
		name, pass, _ := strings.Cut(m, ":")
		return url.UserPassword(name, pass), true
	}
	return url.User(m), true
}

// maskPathValues masks o.full in the values of the wildcards of the
// pattern a ServeMux matched before the middleware ran.
func (o *ownAddr) maskPathValues(r *http.Request) {
	for p := r.Pattern; ; {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			return
		}
		j := strings.IndexByte(p[i:], '}')
		if j < 0 {
			return
		}
		name := strings.TrimSuffix(p[i+1:i+j], "...")
		p = p[i+j+1:]
		if v, ok := o.mask(r.PathValue(name)); ok {
			r.SetPathValue(name, v)
		}
	}
}

// namesOwnServer reports whether the request's Host is the client's own
// address: a browser on the server's machine (in development, at
// 127.0.0.1 or [::1]), whose Origin and Referer then name the server.
func (o *ownAddr) namesOwnServer(r *http.Request) bool {
	host := r.Host
	if h, _, _, why := splitHostPort(host); why == "" {
		host = h
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().WithZone("") == o.full
}

// dottedRoom is the room putDotted needs: the longest dotted text and
// one byte, which it may write past the text's end.
const dottedRoom = len("255.255.255.255") + 1

// putDotted writes the dotted text of the IPv4 address b at the start of
// dst, as netip.Addr.AppendTo writes it, and returns its length. It
// writes each octet's text and the dot after it as one 4-byte word, from
// a table, so dst must have dottedRoom bytes: the byte after the text is
// written too.
func putDotted(dst []byte, b [4]byte) int {
	_ = dst[dottedRoom-1]
	n := 0
	for _, c := range b {
		t := octetDot[c]
		binary.LittleEndian.PutUint32(dst[n:n+4], t.w)
		n += int(t.n) + 1
	}
	return n - 1
}

// octetDot has, for each octet, its decimal text followed by a '.' in the
// low bytes of w (in memory order, little-endian) and the length of the
// text without the dot.
var octetDot = func() (t [256]struct{ w, n uint32 }) {
	for c := range t {
		var b [4]byte
		n := copy(b[:], strconv.Itoa(c))
		b[n] = '.'
		t[c].w, t[c].n = binary.LittleEndian.Uint32(b[:]), uint32(n)
	}
	return t
}()

// maskEscaped masks o.full in s, text of a URL in its escaped form,
// where an IPv4 address may also be written with its dots
// percent-encoded ("198%2E51%2E100%2E7"), which decodes to the address.
func (o *ownAddr) maskEscaped(s string) (string, bool) {
	if len(s) < o.min {
		return s, false // too short for the address in any form
	}
	s, found := o.maskAll(s)
	if o.full.Is4() && strings.Contains(s, "%2") {
		return o.maskEscapedDots(s, found)
	}
	return s, found
}

// maskEscapedDots masks the IPv4 o.full in s written with its dots
// percent-encoded; found reports whether s was masked already.
func (o *ownAddr) maskEscapedDots(query string, found bool) (string, bool) {
	var buf [len("255%2E255%2E255%2E255")]byte
	for _, esc := range [...]string{"%2E", "%2e"} {
		n := 0
		d := o.text[:o.min]
		for k := 0; k < len(d); k++ {
			if d[k] == '.' {
				n += copy(buf[n:], esc)
			} else {
				buf[n] = d[k]
				n++
			}
		}
		e := *o
		e.dotted, e.min = string(buf[:n]), n
		if m, ok := e.mask(query); ok {
			query, found = m, true
		}
	}
	return query, found
}
