package sqlsink

import "github.com/clickanon/clickanon/internal/errmask"

// maskError rewrites an error's text for the log: every address in it (a
// database host in a dial error, say) is cut to no bits, so that no log
// line carries one.
var maskError = errmask.Text

// maskErr masks the addresses in the error *err, if any, keeping it
// unwrappable to the driver's error: the exported methods defer it on
// their named result.
func maskErr(err *error) { errmask.Wrap(err) }
