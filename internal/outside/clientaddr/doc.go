// Package clientaddr holds the outside review of issue 4 (package
// ipmask/clientip: the visitor's real IP behind proxies, and the masking
// middleware): black-box tests of the claims, written from the
// README, the package documentation and the public API alone, over classes
// of input rather than examples. Generated proxy chains with forged
// forwarding headers of every syntax check that no client can choose its
// address, whatever the strategy and the trust configuration; a real
// server checks that nothing downstream of the middleware sees the raw
// address; every outcome is checked against what FromContext, KeyFunc,
// LogValue and Stats say of it; and every exported function is fed bad
// input.
//
// The package has no code of its own: everything is in its tests, in
// package clientaddr_test, which imports only the module's public
// packages, the standard library and testify.
package clientaddr
