package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// Link is a tracking link: an ID and the URL it redirects to.
type Link struct {
	ID      string    `json:"id"`
	URL     string    `json:"url"`
	Created time.Time `json:"created"`
	// Geo are the link's geo redirects, chosen by the visitor's country
	// or continent at click time; the zero value sends everyone to URL.
	Geo geoTargets `json:"geo,omitzero"`
}

var errBadURL = errors.New("bad URL")

// validateURL accepts absolute http and https URLs with a host, at most
// 2048 bytes long, without a user name or password (the stats API and the
// dashboard show a link's URL to anyone who has its ID, and
// https://bank.example@evil.example/ opens evil.example) and with a port,
// if any, of at most 65535. Its errors say what is wrong without
// repeating the URL.
func validateURL(s string) (string, error) {
	if len(s) > 2048 {
		return "", fmt.Errorf("%w: %d bytes, longer than 2048", errBadURL, len(s))
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%w: the %d-byte URL does not parse", errBadURL, len(s))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%w: only http and https URLs can be tracked", errBadURL)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("%w: the URL has no host", errBadURL)
	}
	if u.User != nil {
		return "", fmt.Errorf("%w: the URL holds a user name or password (before an @), which the stats and the dashboard would show: leave it out", errBadURL)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return "", fmt.Errorf("%w: the port is not one from 1 to 65535", errBadURL)
		}
	}
	u.RawQuery = escapeQuery(u.RawQuery)
	return u.String(), nil
}

// escapeQuery percent-encodes what a URL's query may not hold as it is
// (bytes past ASCII, space, '"', '<', '>'), as a browser does before it
// sends one: the stored URL is then the very one a redirect's Location
// carries (net/http escapes such bytes there) and the dashboard shows.
// url.URL keeps a query as given, and encodes only its path and fragment.
func escapeQuery(q string) string {
	const hex = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c > ' ' && c < 0x7f && c != '"' && c != '<' && c != '>' {
			if b != nil {
				b = append(b, c)
			}
			continue
		}
		if b == nil {
			b = append(make([]byte, 0, len(q)+16), q[:i]...)
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	if b == nil {
		return q
	}
	return string(b)
}

// holdsAddr reports whether the link's URL or one of its geo targets
// writes the address client, in any form package logmask finds (with a
// port, bracketed, percent-encoded, in a host name that spells it), also
// once the URL is percent-decoded, or as a host in another IPv4 notation
// a browser reads (see urlHoldsAddr), or
// an IPv6 address that carries client's IPv4 address (6to4, Teredo,
// IPv4-mapped...) or the IPv4 address client carries. A loopback client
// is never found: 127.0.0.1 names no one, and a link to a server on the
// creator's own machine is how a tracker is tried out.
func (l Link) holdsAddr(client netip.Addr) bool {
	if client.Unmap().IsLoopback() {
		return false
	}
	if l.Geo.holdsAddr(client) {
		return true
	}
	return urlHoldsAddr(l.URL, client)
}

func (g geoTargets) holdsAddr(client netip.Addr) bool {
	for _, m := range []map[string]string{g.Countries, g.Continents} {
		for _, u := range m {
			if urlHoldsAddr(u, client) {
				return true
			}
		}
	}
	return false
}

// urlHoldsAddr looks for client in u as it is, in its percent-decoded
// forms (%31%39%38.51.100.77, 198%2E51..., and encoded twice: what any
// reader of the URL decodes), and in its host read as a browser reads an
// IPv4 address (3325256781, 0xc633644d, 0306.063.0144.0115, 198.51.25677).
func urlHoldsAddr(u string, client netip.Addr) bool {
	text := u
	for range maxDecodes + 1 {
		for m := range logmask.Addrs([]byte(text)) {
			if sameHost(m.Addr, client) {
				return true
			}
		}
		d := percentDecode(text)
		if d == text {
			break
		}
		text = d
	}
	if p, err := url.Parse(u); err == nil {
		host := browserHost(p.Hostname())
		if a, ok := hostIPv4(host); ok && sameHost(a, client) {
			return true
		}
		for m := range logmask.Addrs([]byte(host)) {
			if sameHost(m.Addr, client) {
				return true
			}
		}
	}
	return false
}

// browserHost maps host as a browser does before it reads an address in
// it (UTS #46 as the WHATWG URL standard applies it, for what matters
// here): the code points it ignores (a soft hyphen, a zero-width space,
// variation selectors) are dropped, compatibility forms become their
// plain letters and digits (NFKC: full-width １９８, circled ①), the
// ideographic and full-width full stops become '.', and letters are
// lowered. Without the mapping, http://198。51。100。77/ (which a browser
// opens as http://198.51.100.77/) would not read as an address.
func browserHost(host string) string {
	ascii := true
	for i := range len(host) {
		if host[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return host
	}
	kept := strings.Map(func(r rune) rune {
		if ignoredInHost(r) {
			return -1
		}
		return r
	}, host)
	return strings.Map(func(r rune) rune {
		switch r {
		case '\u3002', '\uff61', '\uff0e': // 。 ｡ ．
			return '.'
		}
		return unicode.ToLower(r)
	}, norm.NFKC.String(kept))
}

// ignoredInHost reports whether UTS #46 maps r to nothing ("ignored").
func ignoredInHost(r rune) bool {
	switch {
	case r == '\u00ad', r == '\u034f', r == '\u200b', r == '\u2060', r == '\u2064', r == '\ufeff':
		return true
	case '\u180b' <= r && r <= '\u180f', '\ufe00' <= r && r <= '\ufe0f',
		0x1bca0 <= r && r <= 0x1bca3, 0xe0100 <= r && r <= 0xe01ef:
		return true
	}
	return false
}

// maxDecodes bounds how many times urlHoldsAddr decodes a URL: an
// address encoded more often than that is not one anybody reads.
const maxDecodes = 3

// percentDecode decodes every valid %XX of s and leaves the rest, such as
// a lone '%', as it is (url.PathUnescape gives up on the whole string).
func percentDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}

// hostIPv4 reads host as the WHATWG URL standard's IPv4 parser does: one
// to four numbers joined by dots (a trailing dot allowed), each decimal,
// octal after a leading 0 or hex after 0x, the last filling the bytes
// the others leave. It reports false for a host that is not such an
// address.
func hostIPv4(host string) (netip.Addr, bool) {
	host = strings.TrimSuffix(host, ".")
	parts := strings.Split(host, ".")
	if host == "" || len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		base := 10
		switch {
		case len(p) >= 2 && (p[:2] == "0x" || p[:2] == "0X"):
			p, base = p[2:], 16
			if p == "" {
				p = "0"
			}
		case len(p) >= 2 && p[0] == '0':
			p, base = p[1:], 8
		}
		n, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if n > 255 {
				return netip.Addr{}, false
			}
			v = v<<8 | n
			continue
		}
		rest := uint(8 * (5 - len(parts))) // bits the last number fills
		if n >= 1<<rest {
			return netip.Addr{}, false
		}
		v = v<<rest | n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// sameHost reports whether a and b are one address, or one carries the
// other's IPv4 address (or both carry the same).
func sameHost(a, b netip.Addr) bool {
	a, b = a.Unmap(), b.Unmap()
	if a == b {
		return true
	}
	for _, x := range carried(a) {
		for _, y := range carried(b) {
			if x.IsValid() && x == y {
				return true
			}
		}
	}
	return false
}

// carried is a's IPv4 address, or those it carries.
func carried(a netip.Addr) []netip.Addr {
	if a.Is4() {
		return []netip.Addr{a}
	}
	e, n := ipmask.EmbeddedIPv4(a)
	out := make([]netip.Addr, 0, n)
	for _, x := range e[:n] {
		out = append(out, x.IPv4)
	}
	return out
}

const idAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// newID returns a random 8-character link ID.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b[:])
}

// validID reports whether s could be a link ID, so that nothing else is
// used as a database key.
func validID(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(idAlphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

// links keeps the links in the database and a copy of all of them in
// memory, so a redirect is answered without a database round trip and
// keeps working while the database is down. The copy is refreshed with
// what other instances created (Refresh, every few seconds) and takes a
// link created here at once; a link not yet in the copy is looked up in
// the database on its first click.
//
// Made-up IDs must not turn into database load: an ID the database did
// not have is remembered as absent until the next Refresh, and at most
// missLookupsPerMinute lookups a minute go to the database (in bursts of
// as many); past that an ID not in memory is answered as absent, and a
// link created on another instance meanwhile redirects from the next
// Refresh on.
//
// Its methods are safe for concurrent use.
type links struct {
	db      *database
	now     func() time.Time
	lookups *netLimiter   // database lookups of IDs not in memory: one bucket, under the zero Prefix
	asked   atomic.Uint64 // database lookups of IDs not in memory, for tests

	mu      sync.RWMutex
	byID    map[string]Link
	absent  map[string]struct{} // IDs the database did not have, until the next Refresh
	lastSeq int64               // the highest seq loaded by Refresh
}

// missLookupsPerMinute bounds the database lookups of IDs not in memory;
// maxAbsent bounds the IDs remembered as absent.
const (
	missLookupsPerMinute = 600
	maxAbsent            = 10_000
)

func newLinks(db *database, now func() time.Time) *links {
	return &links{db: db, now: now, byID: make(map[string]Link), absent: make(map[string]struct{}),
		lookups: newNetLimiter(missLookupsPerMinute)}
}

// Create stores a new link to target, with the geo targets g, under a
// fresh random ID.
func (s *links) Create(ctx context.Context, target string, g geoTargets) (Link, error) {
	u, err := validateURL(target)
	if err != nil {
		return Link{}, err
	}
	if g, err = g.validate(); err != nil {
		return Link{}, err
	}
	geoJSON, err := g.encode()
	if err != nil {
		return Link{}, err
	}
	q := s.db.rebind("INSERT INTO linktracker_links (id, url, created_ms, geo_json) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING")
	for range 10 {
		l := Link{ID: newID(), URL: u, Created: s.now().UTC().Truncate(time.Millisecond), Geo: g}
		res, err := s.db.exec(ctx, q, l.ID, l.URL, l.Created.UnixMilli(), geoJSON)
		if err != nil {
			return Link{}, fmt.Errorf("store link: %w", err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 1 {
			s.put(l)
			return l, nil
		}
	}
	return Link{}, errors.New("store link: no free ID after 10 tries")
}

// Get returns the link with the given ID: from memory when it is there,
// else from the database. ok is false when there is no such link; err is
// set only when the database had to be asked and failed.
func (s *links) Get(ctx context.Context, id string) (l Link, ok bool, err error) {
	s.mu.RLock()
	l, ok = s.byID[id]
	_, absent := s.absent[id]
	s.mu.RUnlock()
	if ok {
		return l, true, nil
	}
	if absent || !s.lookups.Allow(netip.Prefix{}, s.now()) {
		return Link{}, false, nil
	}
	s.asked.Add(1)
	var created int64
	var geoJSON string
	err = s.db.QueryRowContext(ctx, s.db.rebind("SELECT url, created_ms, geo_json FROM linktracker_links WHERE id = ?"), id).Scan(&l.URL, &created, &geoJSON)
	if errors.Is(err, sql.ErrNoRows) {
		s.mu.Lock()
		if len(s.absent) < maxAbsent {
			s.absent[id] = struct{}{}
		}
		s.mu.Unlock()
		return Link{}, false, nil
	}
	if err != nil {
		return Link{}, false, fmt.Errorf("get link: %w", err)
	}
	if l.Geo, err = decodeGeo(geoJSON); err != nil {
		return Link{}, false, fmt.Errorf("get link: %w", err)
	}
	l.ID, l.Created = id, time.UnixMilli(created).UTC()
	s.put(l)
	return l, true, nil
}

func (s *links) put(l Link) {
	s.mu.Lock()
	s.byID[l.ID] = l
	s.mu.Unlock()
}

// Len is the number of links held in memory.
func (s *links) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byID)
}

// Refresh loads the links created since the last Refresh, by any
// instance. (On PostgreSQL a transaction can commit a lower seq after a
// higher one was read; such a link is still found by Get on its first
// click.)
func (s *links) Refresh(ctx context.Context) error {
	s.mu.RLock()
	after := s.lastSeq
	s.mu.RUnlock()
	rows, err := s.db.QueryContext(ctx, s.db.rebind("SELECT seq, id, url, created_ms, geo_json FROM linktracker_links WHERE seq > ? ORDER BY seq"), after)
	if err != nil {
		return fmt.Errorf("load links: %w", err)
	}
	defer rows.Close()
	var batch []Link
	last := after
	for rows.Next() {
		var l Link
		var created int64
		var geoJSON string
		if err := rows.Scan(&last, &l.ID, &l.URL, &created, &geoJSON); err != nil {
			return fmt.Errorf("load links: %w", err)
		}
		if l.Geo, err = decodeGeo(geoJSON); err != nil {
			return fmt.Errorf("load links: %w", err)
		}
		l.Created = time.UnixMilli(created).UTC()
		batch = append(batch, l)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load links: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range batch {
		s.byID[l.ID] = l
	}
	clear(s.absent) // a link Refresh missed (see above) is asked for again
	s.lastSeq = max(s.lastSeq, last)
	return nil
}
