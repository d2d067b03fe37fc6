package retention

import (
	"errors"
	"fmt"

	"github.com/clickanon/clickanon/internal/errmask"
)

// foreignError is an error from something retention calls (a key store, a
// random source, a Sweepable) with retention's context added. Its text
// goes through scrub, since an error gets logged and the callee's text may
// hold an address (a server's, or a visitor's from a careless Sweepable);
// the error itself stays reachable with errors.Is and errors.As.
type foreignError struct {
	op  string
	err error
}

// foreign wraps err, from a callee, as a retention error about op.
func foreign(op string, err error) error { return &foreignError{op: op, err: err} }

func (e *foreignError) Error() string { return "retention: " + e.op + ": " + scrub(e.err.Error()) }

func (e *foreignError) Unwrap() error { return e.err }

// Format writes the scrubbed text for every verb and flag, %+v with the
// callee's own %+v (its details), scrubbed: without it %#v would print the
// callee's error in Go syntax, which quotes a string-typed error whole.
func (e *foreignError) Format(f fmt.State, verb rune) {
	errmask.Format(f, verb, "retention: "+e.op+": ", e.err)
}

// scrub masks every IP address in an error's text, with the masker the
// storage packages use for theirs (internal/errmask: every form logmask
// reads, cut to no bits).
var scrub = errmask.Text

// Errors of calls a careless caller can make, and Go lets compile: a nil
// context, a method of a nil pointer. Each method answers with one of
// these rather than panic with a nil dereference.
var (
	errNilKeyring  = errors.New("retention: nil *Keyring")
	errNilKeyStore = errors.New("retention: nil *MemoryKeyStore")
	errNilSweeper  = errors.New("retention: nil *Sweeper")
	errZeroSweeper = errors.New("retention: Sweeper not made by NewSweeper")
)

// nilContext returns the error of op called with a nil context.
func nilContext(op string) error { return errors.New("retention: " + op + ": nil context") }
