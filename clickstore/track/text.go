package track

import (
	"net/url"
	"strings"

	"github.com/clickanon/clickanon/clickstore"
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

// trimSpace trims ASCII spaces and tabs, the only blanks a header value
// may carry at its ends.
func trimSpace(s string) string { return strings.Trim(s, " \t") }

// truncate returns s cut to at most n bytes.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
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
	host := ref[i+3:]
	for j := 0; j < len(host); j++ {
		if c := host[j]; c == '/' || c == '?' || c == '#' {
			host = host[:j]
			break
		}
	}
	for j := len(host) - 1; j >= 0; j-- {
		if host[j] == '@' {
			host = host[j+1:]
			break
		}
	}
	if len(host) > 0 && host[0] == '[' {
		return "" // an address, not a host name: never keep it
	}
	for j := 0; j < len(host); j++ {
		if host[j] == ':' {
			host = host[:j]
			break
		}
	}
	if len(host) > clickstore.MaxReferrerLen {
		return ""
	}
	if numericHost(host) {
		return "" // an address, not a host name: never keep it
	}
	upper := false
	for j := 0; j < len(host); j++ {
		switch c := host[j]; {
		case 'A' <= c && c <= 'Z':
			upper = true
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '.', c == '-', c == '_':
		default:
			return "" // not a host name (and nothing a spreadsheet could run)
		}
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

// numericHost reports whether a URL host is an IPv4 address as a browser
// reads one: its last label is a number, decimal or 0x hexadecimal (the
// WHATWG URL standard's rule; a real top-level domain is never numeric).
// It does not allocate, unlike parsing and failing.
func numericHost(host string) bool {
	host = strings.TrimSuffix(host, ".")
	last := host[strings.LastIndexByte(host, '.')+1:]
	if len(last) > 1 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') {
		return true
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return last != ""
}

// countryCode returns an ISO 3166-1 alpha-2 code in upper case, or "" for
// anything that is not two ASCII letters.
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
