// Package truncate holds a third outside review of issue 2's claims about
// ipmask's truncation policies and their text forms, written from
// README.md, the package documentation and the public API alone. It
// compares [ipmask.Policy.Mask], Prefix, Bits, MaskString, AppendMask and
// [ipmask.ParseAddr], for every policy New accepts, with a slow and
// obvious reference written from the documentation with net/netip only,
// over addresses whose groups are drawn near every documented form's
// boundary and over every spelling of them (leading zeros, case, "::" in
// every position, dotted tails, zones), with MaskString's result made of
// the text's own bytes when it is the text or its leading part, and holds
// [ipmask.EmbeddedIPv4] and Bits to the same recognition. It then edits
// valid spellings at
// random (insertions, deletions, replacements, brackets, ports) and holds
// acceptance to the documented rule (what netip.ParseAddr accepts, but
// for a zone on IPv4) and every refusal to an error wrapping
// ipmask.ErrInvalidAddr that quotes no part of the text.
//
// The package has no code of its own: everything is in its tests, in
// package truncate_test, which imports only the module's public packages,
// the standard library and testify.
package truncate
