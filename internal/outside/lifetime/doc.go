// Package lifetime holds the third outside review of issues 5 and 11 on
// keys and lifetimes: black-box tests, written from README.md, the
// package documentation and the public API alone, of how long a
// retention.Keyring's epoch keys live as a user wires them (the default
// store, a MemoryKeyStore shared by a keyring restarted on it, and
// redisstore's KeyStore), across every epoch boundary and grace, under
// wall clocks stepped forward and back by less than, exactly and more
// than a window; of pseudonyms of a destroyed key never being produced
// again; of Keyring, Builder and Memory shared by many goroutines while
// epochs turn; and of the exported functions of retention and clickstore
// fed nil, zero, negative, huge and out-of-range values.
//
// The package has no code of its own: everything is in its tests, in
// package lifetime_test, which imports only the module's public packages,
// the standard library, testify and the module's test harnesses.
package lifetime
