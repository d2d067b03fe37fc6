package redisstore

import (
	"testing"
	"time"
)

// parseStamp reads back exactly what stampOf writes, and rejects (never
// panics on) anything else: a stored marker's first bytes come from Redis
// and may be corrupt.
func FuzzParseStamp(f *testing.F) {
	s := stampOf(time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC))
	f.Add(string(s[:]) + "token")
	f.Add("")
	f.Add("99999999999999999999")
	f.Add("000000000000000000-")
	f.Fuzz(func(t *testing.T, v string) {
		n, ok := parseStamp(v)
		if !ok {
			return
		}
		if n < 0 {
			t.Fatalf("parseStamp(%q) = %d: negative", v, n)
		}
		back := stampOf(time.Unix(0, n))
		if string(back[:]) != v[:len(back)] {
			t.Fatalf("parseStamp(%q) = %d, which writes back as %q", v, n, back[:])
		}
	})
}
