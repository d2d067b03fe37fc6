// Package errmask masks the addresses in the errors that clickanon's
// storage packages return and log: a driver's error names its server
// ("dial tcp 10.0.0.5:6379: connect: connection refused"), and a caller
// logs what it is given.
//
// The masking is of text: every way fmt writes a masked error (%v, %+v,
// %s, %q, %#v, %x) shows its text with every address cut to no bits. The
// error it wraps stays reachable, as it is, with errors.Is and errors.As
// (a caller branches on a *net.OpError or a timeout): what As finds is the
// driver's own error, whose fields and text name the server unmasked. No
// visitor's address reaches a driver (what the stores are given is
// masked, pseudonymous or refused first), so what a caller can dig out
// that way is the address of a server it configured; a caller that logs
// it should log the error it was returned instead, or mask it with
// logmask.
package errmask

import (
	"fmt"
	"io"

	"github.com/clickanon/clickanon/ipmask/logmask"
)

// Text returns s with every IP address in it cut to no bits (the zero
// logmask.Masker), for the text of an error written to a log.
var Text = new(logmask.Masker).MaskString

// masked is an error whose text has every address masked and which
// unwraps to the error itself, for errors.Is and errors.As.
type masked struct{ err error }

func (e *masked) Error() string { return Text(e.err.Error()) }
func (e *masked) Unwrap() error { return e.err }

// Format writes the masked text for every verb and flag: %+v the wrapped
// error's own %+v (a driver's details), masked; any other the masked
// Error text as fmt writes a string. Without it %#v would print the
// wrapped error's Go syntax, which quotes a string-typed error (a Redis
// reply such as "MOVED 3999 10.0.0.5:6381") whole.
func (e *masked) Format(f fmt.State, verb rune) { Format(f, verb, "", e.err) }

// Format writes prefix and err's text, masked (see Text), as fmt writes an
// error for verb and f's flags: %+v with err's own %+v (a driver's
// details), any other verb with its Error text as fmt writes a string. An
// error type that wraps a callee's error with a prefix of its own gives
// its Format method this, so that no verb quotes the callee's text whole.
func Format(f fmt.State, verb rune, prefix string, err error) {
	if verb == 'v' && f.Flag('+') {
		io.WriteString(f, prefix+Text(fmt.Sprintf("%+v", err)))
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), prefix+Text(err.Error()))
}

// Wrap replaces the error *err, if its text holds an address, with one
// whose text has it masked and which unwraps to it; an error without an
// address is left as it is, so that sentinels compare as before. The text
// read is Error's, and %+v's and %v's for an error that formats itself
// (one with details or a stack trace). Exported methods defer it on their named
// error result.
func Wrap(err *error) {
	if e := *err; e != nil {
		if _, ok := e.(*masked); !ok && holdsAddr(e) {
			*err = &masked{e}
		}
	}
}

// holdsAddr reports whether e's text, or its %+v or %v if it is a
// fmt.Formatter, holds an address.
func holdsAddr(e error) bool {
	if t := e.Error(); Text(t) != t {
		return true
	}
	if _, ok := e.(fmt.Formatter); ok {
		for _, t := range [...]string{fmt.Sprintf("%+v", e), fmt.Sprint(e)} {
			if Text(t) != t {
				return true
			}
		}
	}
	return false
}
