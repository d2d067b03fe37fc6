package sqlsink

import "github.com/clickanon/clickanon/ipmask/logmask"

// maskError rewrites an error's text for the log: the zero Masker cuts
// every address in it (a database host in a dial error, say) to no bits
// at all, so that no log line carries one.
var maskError = new(logmask.Masker).MaskString

// maskedError is an error of the database or its driver as a Sink method
// returns it: its text has every address masked away, as maskError does
// for the log (a driver's text names the server: "failed to connect to
// ... 127.0.0.1:5432"), since a caller logs it, and it unwraps to the
// error itself, for errors.Is and errors.As.
type maskedError struct{ err error }

func (e *maskedError) Error() string { return maskError(e.err.Error()) }
func (e *maskedError) Unwrap() error { return e.err }

// maskErr wraps the error *err, if any, in a maskedError: the exported
// methods defer it on their named result.
func maskErr(err *error) {
	if *err != nil {
		if _, ok := (*err).(*maskedError); !ok {
			*err = &maskedError{*err}
		}
	}
}
