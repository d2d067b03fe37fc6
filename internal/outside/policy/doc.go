// Package policy holds the black-box tests of issue 2's claims about
// ipmask (its truncation policies, the embedded-IPv4 rule and the text
// forms), written the way an outside tester writes them: from README.md,
// the package documentation and the public API alone, over classes of
// input rather than examples. Every policy New accepts (each IPv4 count
// 0 to 32 with each IPv6 count 0 to 128) masks addresses generated in
// every family the documentation names, laid out as their RFCs lay them
// out (IPv4-mapped and -compatible, SIIT, 6to4, Teredo with its inverted
// client and port, NAT64 well-known and local-use in each RFC 6052
// layout, ISATAP in both u/l forms, and these stacked), and is checked
// against a plain reference: two visitors whose IPv4 addresses agree in
// the policy's leading bits are never told apart by any output, and
// exactly the documented number of bits is kept. Every spelling such an
// address can take in text (case, leading zeros in groups, "::" over any
// zero run, a dotted-quad tail, zones of any content) is masked as Mask
// masks the address, and every spelling that is not an address (IPv4
// leading zeros, whitespace, brackets, ports, prefixes, overlong text,
// look-alike characters) is refused with an error wrapping
// ipmask.ErrInvalidAddr that quotes none of it.
//
// The package has no code of its own: everything is in its tests, in
// package policy_test, which imports only the module's public packages,
// the standard library and testify.
package policy
