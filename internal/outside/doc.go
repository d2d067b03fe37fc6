// Package outside holds the black-box tests of the README's guarantees
// ("What it guarantees", 1 to 7), written the way an outside tester writes
// them: from README.md, the package documentation and the public API alone,
// over classes of input rather than examples, with whole deployments
// assembled from the README's snippets (the clientip middleware, the
// tracker, the logmask slog handler, metrics and the middlewares a service
// already has, in every order the README allows; CDNs and proxies; key
// lifetimes under a fake clock; hostile input to every exported function;
// everything persisted, dumped and searched for any form of an address,
// also on a fleet of instances sharing Redis and PostgreSQL).
//
// The package has no code of its own: everything is in its tests, in package
// outside_test, which imports only the module's public packages, the
// standard library, testify, go-redis (to dump a fleet's Redis) and the
// module's test harnesses (internal/redistest and internal/pgtest start the
// fleet's redis-server and PostgreSQL; internal/testlog holds logs).
package outside
