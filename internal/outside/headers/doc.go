// Package headers holds the third outside review of issue 4 (package
// ipmask/clientip: the client's real address behind proxies): black-box
// tests of the header syntax at its edges, for every header the package
// reads (RFC 7239 Forwarded elements with quoted strings, escapes, empty
// elements and parameters, whitespace, parameters in any case and order;
// X-Forwarded-For entries in every form proxies write and the forms the
// walk must refuse; single-address vendor headers with several values,
// lists, junk and control bytes), of trust configurations at their edges
// (IPv4-mapped and zoned ranges, overlapping and single-host ranges,
// hundreds of them, peers that are not IP addresses, hop counts past the
// chain), and of what the middleware leaves downstream for each of those.
//
// The package has no code of its own: everything is in its tests, in
// package headers_test, which imports only the module's public packages,
// the standard library and testify.
package headers
