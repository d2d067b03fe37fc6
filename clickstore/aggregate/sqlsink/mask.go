package sqlsink

import "github.com/clickanon/clickanon/ipmask/logmask"

// maskError rewrites an error's text for the log: the zero Masker cuts
// every address in it (a database host in a dial error, say) to no bits
// at all, so that no log line carries one.
var maskError = new(logmask.Masker).MaskString
