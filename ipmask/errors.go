package ipmask

import (
	"errors"
	"strconv"
)

// ErrInvalidAddr is wrapped by every error that reports text which is not an
// IP address. Test for it with errors.Is.
//
// Such an error never quotes the text, since text that fails to parse as an
// address may still hold one (an address with a port, a zone or junk
// appended) and errors get logged. It says what kind of fault stopped the
// parse, at which byte, and how long the text was, e.g.
// "ipmask: not an IP address: unexpected ':' at byte 11 (text of 14 bytes)".
var ErrInvalidAddr = errors.New("not an IP address")

// fault is what is wrong with text that is not an address.
type fault uint8

const (
	faultEmpty fault = iota + 1
	faultNoSeparator
	faultChar
	faultZoneEmpty
	faultZoneNoV6
	faultV4Zero
	faultV4Range
	faultV4Empty
	faultV4Long
	faultV4Short
	faultV6Digits
	faultV6Empty
	faultV6Colon
	faultV6Ellipsis
	faultV6EmptyEllipsis
	faultV6Dotted
	faultV6Long
	faultV6Short
	faultV6Other
)

// faultText describes each fault; a true at says the fault has a position.
var faultText = [...]struct {
	msg string
	at  bool
}{
	faultEmpty:           {"empty text", false},
	faultNoSeparator:     {"no '.' or ':'", false},
	faultChar:            {"unexpected", true}, // the character's class follows
	faultZoneEmpty:       {"empty zone after the '%'", true},
	faultZoneNoV6:        {"zone '%' on text that is not IPv6", true},
	faultV4Zero:          {"IPv4 field with a leading zero", true},
	faultV4Range:         {"IPv4 field above 255", true},
	faultV4Empty:         {"empty IPv4 field", true},
	faultV4Long:          {"more than four IPv4 fields", true},
	faultV4Short:         {"fewer than four IPv4 fields", false},
	faultV6Digits:        {"IPv6 group of more than four hex digits", true},
	faultV6Empty:         {"empty IPv6 group", true},
	faultV6Colon:         {"trailing ':'", true},
	faultV6Ellipsis:      {"second \"::\"", true},
	faultV6EmptyEllipsis: {"\"::\" standing for no group", false},
	faultV6Dotted:        {"dotted IPv4 part not in the last two groups", true},
	faultV6Long:          {"more than eight IPv6 groups", true},
	faultV6Short:         {"fewer than eight IPv6 groups and no \"::\"", false},
	faultV6Other:         {"not IPv6 text", false},
}

// parseError is text that is not an address, described without its text.
type parseError struct {
	fault fault
	c     byte // the unexpected byte, for faultChar; only its class is shown
	pos   int
	n     int // length of the text
}

// err returns the error for r's fault in a text of n bytes, given the byte
// at the fault's position, if any.
func (r *scanned) err(s string) error {
	e := &parseError{fault: r.fault, pos: r.pos, n: len(s)}
	if r.pos < len(s) {
		e.c = s[r.pos]
	}
	return e
}

func (e *parseError) Error() string {
	b := make([]byte, 0, 96)
	b = append(b, "ipmask: not an IP address: "...)
	d := faultText[e.fault]
	b = append(b, d.msg...)
	if e.fault == faultChar {
		b = append(b, ' ')
		b = append(b, class(e.c)...)
	}
	if d.at {
		b = append(b, " at byte "...)
		b = strconv.AppendInt(b, int64(e.pos), 10)
	}
	b = append(b, " (text of "...)
	b = strconv.AppendInt(b, int64(e.n), 10)
	b = append(b, " bytes)"...)
	return string(b)
}

func (e *parseError) Unwrap() error { return ErrInvalidAddr }

// class names the kind of an unexpected byte: punctuation that tells a
// reader what went wrong ("':'" often means a port) is named, while a
// letter or a digit is named only as such, so no error carries the text.
func class(c byte) string {
	switch c {
	case ':', '.', '[', ']', '/', ',', ';', '"', '\'', '=', '@', '%':
		return "'" + string(rune(c)) + "'"
	case ' ':
		return "space"
	case '\t', '\n', '\r':
		return "whitespace"
	}
	switch {
	case c >= '0' && c <= '9':
		return "digit"
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		return "letter"
	case c < 0x20 || c == 0x7f:
		return "control byte"
	case c >= 0x80:
		return "non-ASCII byte"
	}
	return "symbol"
}
