// Package truncate holds a third outside review of issue 2's claims about
// ipmask's truncation policies and their text forms, written from
// README.md, the package documentation and the public API alone.
//
// It compares [ipmask.Policy.Mask], Prefix, Bits, MaskString, AppendMask
// and [ipmask.ParseAddr], for every policy New accepts, with a slow and
// obvious reference written from the documentation with net/netip only,
// over addresses whose groups are drawn near every documented form's
// boundary and over every spelling of them (leading zeros, case, "::" in
// every position, dotted tails, zones of any content). MaskString's result
// must be the text's own bytes when it is the text or its leading part,
// and [ipmask.EmbeddedIPv4] and Bits must follow the same recognition.
//
// It then edits valid spellings at random (insertions, deletions,
// replacements, brackets, ports, zones, prefix lengths) and builds
// address-shaped text from groups, colons and dotted quads, and holds
// acceptance to the documented rule (what netip.ParseAddr accepts, but
// for a zone on IPv4) and every refusal to an error wrapping
// ipmask.ErrInvalidAddr that starts with the package's name and quotes no
// part of the text, with AppendMask's dst left unchanged.
//
// The package has no code of its own: everything is in its tests, in
// package truncate_test, which imports only the module's public packages,
// the standard library and testify.
package truncate
