package clickstore

import (
	"net/http"
	"strings"
	"unsafe"
)

// botTokens are user-agent substrings, in lower case, of crawlers,
// link-preview fetchers and command-line clients. Each maps to the label a
// click gets. The first match wins, so a fetcher that names another in its user agent
// comes before it.
var botTokens = [...]struct{ token, label string }{
	{"telegrambot", "telegrambot"}, // before twitterbot: it says "like TwitterBot"
	{"slackbot", "slackbot"},
	{"slack-imgproxy", "slackbot"},
	{"twitterbot", "twitterbot"},
	{"facebookexternalhit", "facebook"},
	{"facebookcatalog", "facebook"},
	{"meta-externalagent", "facebook"},
	{"linkedinbot", "linkedinbot"},
	{"discordbot", "discordbot"},
	{"whatsapp", "whatsapp"},
	{"skypeuripreview", "skype"},
	{"googlebot", "googlebot"},
	{"google-inspectiontool", "googlebot"},
	{"adsbot-google", "googlebot"},
	{"mediapartners-google", "googlebot"},
	{"bingbot", "bingbot"},
	{"bingpreview", "bingbot"},
	{"applebot", "applebot"},
	{"duckduckbot", "duckduckbot"},
	{"yandexbot", "yandexbot"},
	{"baiduspider", "baiduspider"},
	{"pinterestbot", "pinterestbot"},
	{"redditbot", "redditbot"},
	{"embedly", "embedly"},
	{"mastodon", "mastodon"},
	{"curl/", "curl"},
	{"wget/", "wget"},
	{"python-requests", "python-requests"},
	{"python-urllib", "python-urllib"},
	{"go-http-client", "go-http-client"},
	{"httpclient", "http-client"},
	{"headlesschrome", "headless-chrome"},
	{"bot", "bot"},
	{"crawler", "bot"},
	{"spider", "bot"},
	{"preview", "bot"},
}

// BotLabel returns the label of a request that a person did not make, or ""
// for one that looks human: a user agent of a known crawler, link-preview
// fetcher or command-line client (Slackbot, Twitterbot, facebookexternalhit,
// LinkedInBot, Discordbot, WhatsApp, TelegramBot, Googlebot, bingbot, curl,
// wget and similar, matched case-insensitively; a generic "bot", "crawler",
// "spider" or "preview" gives "bot"), an empty user agent ("no-user-agent"),
// a HEAD request ("head"), or a prefetch announced with Purpose or
// Sec-Purpose ("prefetch").
//
// BotLabel does not allocate.
func BotLabel(r *http.Request) string {
	if r == nil {
		return ""
	}
	if r.Method == http.MethodHead {
		return "head"
	}
	if isPrefetch(r.Header.Get("Sec-Purpose")) || isPrefetch(r.Header.Get("Purpose")) {
		return "prefetch"
	}
	ua := r.Header.Get("User-Agent")
	if ua == "" {
		return "no-user-agent"
	}
	var buf [512]byte
	lua := lowerInto(&buf, ua)
	for _, b := range botTokens {
		if strings.Contains(lua, b.token) {
			return b.label
		}
	}
	return ""
}

// lowerInto returns s in ASCII lower case, written into buf when it fits
// (so that nothing is allocated for a user agent of ordinary length).
func lowerInto(buf *[512]byte, s string) string {
	if len(s) > len(buf) {
		return strings.ToLower(s)
	}
	for i := 0; i < len(s); i++ {
		buf[i] = lower(s[i])
	}
	return unsafe.String(&buf[0], len(s))
}

// isPrefetch reports whether a Purpose or Sec-Purpose value announces a
// prefetch or prerender ("prefetch", "prefetch;prerender", "prefetch;anonymous-client-ip").
func isPrefetch(v string) bool {
	return containsFold(v, "prefetch") || containsFold(v, "prerender")
}

// DeviceClass returns a coarse class of the user agent: "mobile", "tablet",
// "desktop", or "" when it cannot tell. It is deliberately coarse: a fine
// device breakdown helps fingerprint a visitor.
//
// DeviceClass does not allocate.
func DeviceClass(userAgent string) string {
	if userAgent == "" {
		return ""
	}
	var buf [512]byte
	ua := lowerInto(&buf, userAgent)
	has := func(token string) bool { return strings.Contains(ua, token) }
	switch {
	case has("ipad"), has("tablet"):
		return "tablet"
	case has("android") && !has("mobile"):
		return "tablet"
	case has("mobile"), has("iphone"):
		return "mobile"
	case has("windows"), has("macintosh"), has("x11"), has("cros"):
		return "desktop"
	}
	return ""
}

// containsFold reports whether s contains the lower-case ASCII token,
// ignoring ASCII case in s.
func containsFold(s, token string) bool {
	n := len(token)
	if n == 0 {
		return true
	}
	first := token[0]
	for i := 0; i+n <= len(s); i++ {
		if lower(s[i]) != first {
			continue
		}
		j := 1
		for j < n && lower(s[i+j]) == token[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
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
	if len(host) > MaxReferrerLen {
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
