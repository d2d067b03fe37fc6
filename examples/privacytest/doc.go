// Command privacytest is a small web service that logs every request
// without keeping anyone's IP address, and main_test.go beside it is the
// test that proves it: copy both.
//
// The handler logs with log/slog through a logmask.Handler, which masks
// every address in a record whatever attribute carries it, so the request
// path and the peer's RemoteAddr are logged as they come, and it answers
// with the visitor's network (ipmask.Default: an IPv4 /24 or IPv6 /48,
// never more of an embedded IPv4 than its /24) as JSON.
package main
