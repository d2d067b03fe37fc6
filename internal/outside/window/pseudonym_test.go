package window_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A pseudonym's text, alone, as a JSON value and as a JSON map key,
// reads back as the same pseudonym, for many pseudonyms; its upper-case
// form too.
func TestPseudonymTextRoundTrips(t *testing.T) {
	for i := range 2000 {
		p := clickstoretest.Visitor(i * 7919)
		if i == 0 {
			p = clickstore.Pseudonym{} // the zero one has a text too
		}
		s := p.String()
		require.Len(t, s, 32)
		assert.Equal(t, strings.ToLower(s), s)
		got, err := clickstore.ParsePseudonym(s)
		require.NoError(t, err)
		assert.Equal(t, p, got)
		got, err = clickstore.ParsePseudonym(strings.ToUpper(s))
		require.NoError(t, err)
		assert.Equal(t, p, got, "upper case")

		b, err := json.Marshal(map[clickstore.Pseudonym][]clickstore.Pseudonym{p: {p, {}}})
		require.NoError(t, err)
		var back map[clickstore.Pseudonym][]clickstore.Pseudonym
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, []clickstore.Pseudonym{p, {}}, back[p])
	}
}

// ParsePseudonym and UnmarshalText refuse every text that is not 32 hex
// digits: each length but 32, and a 32-byte text with any byte that is
// not a hex digit at any position (multi-byte runes too), with an error
// naming the package that quotes none of the text and carries no address.
func TestParsePseudonymRefusesWithoutEcho(t *testing.T) {
	good := clickstoretest.Visitor(42).String()
	var bad []string
	for n := range 80 {
		if n != 32 {
			bad = append(bad, strings.Repeat("a", n), (good + good + good)[:n])
		}
	}
	for pos := range 32 {
		for b := range 256 {
			c := byte(b)
			if '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' {
				continue
			}
			bad = append(bad, good[:pos]+string([]byte{c})+good[pos+1:])
		}
		if pos < 31 {
			bad = append(bad, good[:pos]+"é"+good[pos+2:]) // two bytes, still 32
		}
	}
	for _, s := range clickstoretest.Canaries() {
		bad = append(bad, s, (s + strings.Repeat("0", 32))[:32], (strings.Repeat("0", 32) + s)[len(s):][:32])
	}
	bad = append(bad, " "+good[1:], good[:31]+"\n", "0x"+good[2:], "+"+good[1:], "-"+good[1:])
	refused := 0
	for _, s := range bad {
		if len(s) == 32 && isHexText(s) {
			continue // a canary cut to 32 hex digits is a valid text
		}
		p, err := clickstore.ParsePseudonym(s)
		if !assert.Error(t, err, "%q accepted", s) {
			continue
		}
		refused++
		assert.Zero(t, p)
		msg := err.Error()
		assert.True(t, strings.HasPrefix(msg, "clickstore: "), msg)
		assert.Empty(t, ipmasktest.Leaks(ipmask.Policy{}, msg), msg)
		if frag := strings.Trim(s, " "); len(frag) >= 4 {
			assert.NotContains(t, msg, frag, "the error quotes its input")
		}
		var q clickstore.Pseudonym = clickstoretest.Visitor(1)
		uerr := q.UnmarshalText([]byte(s))
		assert.Equal(t, err, uerr, "UnmarshalText and ParsePseudonym disagree on %q", s)
		assert.Equal(t, clickstoretest.Visitor(1), q, "a refused text changed the pseudonym")
		assert.Error(t, json.Unmarshal([]byte(`"`+strings.ReplaceAll(s, `"`, ``)+`"`), &q))
	}
	assert.Greater(t, refused, 8000)
	var nilP *clickstore.Pseudonym
	assert.Error(t, nilP.UnmarshalText([]byte(good)))
}

func isHexText(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
