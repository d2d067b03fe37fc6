package ipmask_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// canaries are addresses in every form, each of which a leak would show.
var canaries = []string{
	"203.0.113.9",
	"2001:db8:1:2::7",
	"2001:db8:1:2:3:4:5:6",
	"::ffff:203.0.113.9",
	"::ffff:cb00:7109",
	"::203.0.113.9",
	"2002:cb00:7109::1",
	"2001:0:4136:e378:8000:63bf:34ff:8ef6",
	"64:ff9b::203.0.113.9",
	"2001:db8:1:2:0:5efe:203.0.113.9",
	"fe80::1ff:fe23:4567:890a%eth0",
}

// corrupt returns text that holds s but is not an address: with a port,
// brackets, a prefix length, a zone where none may go, junk before, after
// or inside, cut short, and every byte in turn replaced.
func corrupt(s string) []string {
	var out []string
	for _, suffix := range []string{":80", "%", "%eth0", "/24", " ", "x", ".", ".5", "::", "::1", "\x00", "\xff", ",198.51.100.7", "#", "]"} {
		out = append(out, s+suffix)
	}
	for _, prefix := range []string{"[", " ", "x", ":", ".", "%", "0", "::1:"} {
		out = append(out, prefix+s)
	}
	out = append(out, "["+s+"]:443", "for="+s, `"`+s+`"`, s+"\n"+s, strings.ToUpper(s)+"Z")
	for i := range len(s) {
		out = append(out, s[:i])
		for _, c := range []byte{'g', ':', '.', '%', ' ', '9', 0x80} {
			b := []byte(s)
			b[i] = c
			out = append(out, string(b))
		}
		out = append(out, s[:i]+"::"+s[i:], s[:i]+"1.2.3.4"+s[i:])
	}
	return out
}

// Every error of the text functions, for any text around a canary, says
// nothing of the text: no address a policy would mask, and no quote of it.
func TestErrorsCarryNoInput(t *testing.T) {
	digits := regexp.MustCompile(`\b[0-9]+\b`)
	kinds := map[string]bool{}
	errs := 0
	for _, c := range canaries {
		for _, s := range corrupt(c) {
			for _, p := range []ipmask.Policy{ipmask.Default, ipmask.Strict} {
				_, err := p.MaskString(s)
				_, err2 := p.AppendMask(nil, []byte(s))
				_, err3 := ipmask.ParseAddr(s)
				for _, err := range []error{err, err2, err3} {
					if err == nil {
						continue // some corruptions are still addresses: 203.0.113.9::1 is not, 2001:db8:...:5:1.2.3.4 may be
					}
					errs++
					require.True(t, errors.Is(err, ipmask.ErrInvalidAddr), "%q: %v", s, err)
					msg := err.Error()
					assert.True(t, strings.HasPrefix(msg, "ipmask: not an IP address: "), msg)
					ipmasktest.AssertNoRawIPError(t, ipmask.Default, err, "input %q", s)
					// Nothing of the input but its length and a position.
					assert.NotContains(t, msg, c)
					if frag := strings.Trim(s, " .:%[]"); len(frag) >= 4 {
						assert.NotContains(t, msg, frag)
					}
					kinds[digits.ReplaceAllString(msg, "N")] = true
				}
			}
		}
	}
	require.Positive(t, errs)
	// Every fault the parser reports was driven.
	for _, kind := range []string{
		"empty text", "unexpected '['", "unexpected ':'", "unexpected letter", "unexpected space",
		"unexpected non-ASCII byte", "unexpected control byte", "zone '%' on text that is not IPv6",
		"empty zone", "leading zero", "IPv4 field above", "empty IPv4 field", "more than four IPv4 fields",
		"fewer than four IPv4 fields", "more than four hex digits", "empty IPv6 group", "trailing ':'",
		`second "::"`, `"::" standing for no group`, "dotted IPv4 part", "more than eight IPv6 groups",
		`fewer than eight IPv6 groups`,
	} {
		found := false
		for k := range kinds {
			if strings.Contains(k, kind) {
				found = true
				break
			}
		}
		assert.True(t, found, "no input drove the fault %q", kind)
	}
}

// The error of New names the counts it was given, which are not input text.
func TestNewErrorsCarryNoAddress(t *testing.T) {
	for _, bits := range [][2]int{{33, 48}, {-1, 48}, {24, 129}, {24, -1}, {203, 113}} {
		_, err := ipmask.New(bits[0], bits[1])
		require.Error(t, err)
		ipmasktest.AssertNoRawIPError(t, ipmask.Default, err)
		assert.True(t, strings.HasPrefix(err.Error(), "ipmask: "), err.Error())
	}
}
