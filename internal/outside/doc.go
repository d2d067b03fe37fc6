// Package outside holds the black-box tests of the README's guarantees
// ("What it guarantees", 1 to 7), written the way an outside tester writes
// them: from README.md, the package documentation and the public API alone,
// over classes of input rather than examples, with whole deployments
// assembled from the README's snippets (the clientip middleware, the
// tracker, the logmask slog handler, metrics and the middlewares a service
// already has, in every order the README allows; CDNs and proxies; key
// lifetimes under a fake clock; hostile input to every exported function;
// everything persisted, dumped and searched for any form of an address).
//
// The package has no code of its own: everything is in its tests, in package
// outside_test, which imports only the module's public packages, the
// standard library and testify.
package outside
