// Command privacytest is a small web service that logs every request
// without keeping anyone's IP address, and main_test.go beside it is the
// test that proves it: copy both.
//
// The handler logs, with log/slog, the visitor's network (ipmask.Default:
// an IPv4 /24 or IPv6 /48, never more of an embedded IPv4 than its /24),
// and the request path with any address in it masked by logmask, and it
// answers with that network as JSON.
package main
