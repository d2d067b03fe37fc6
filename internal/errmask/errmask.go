// Package errmask masks the addresses in the errors that clickanon's
// storage packages return and log: a driver's error names its server
// ("dial tcp 10.0.0.5:6379: connect: connection refused"), and a caller
// logs what it is given.
package errmask

import "github.com/clickanon/clickanon/ipmask/logmask"

// Text returns s with every IP address in it cut to no bits (the zero
// logmask.Masker), for the text of an error written to a log.
var Text = new(logmask.Masker).MaskString

// masked is an error whose text has every address masked and which
// unwraps to the error itself, for errors.Is and errors.As.
type masked struct{ err error }

func (e *masked) Error() string { return Text(e.err.Error()) }
func (e *masked) Unwrap() error { return e.err }

// Wrap replaces the error *err, if its text holds an address, with one
// whose text has it masked and which unwraps to it; an error without an
// address is left as it is, so that sentinels compare as before. Exported
// methods defer it on their named error result.
func Wrap(err *error) {
	if e := *err; e != nil {
		if _, ok := e.(*masked); !ok {
			if t := e.Error(); Text(t) != t {
				*err = &masked{e}
			}
		}
	}
}
