// Package logmask masks every IP address in text, such as log lines, with an
// [ipmask.Policy], keeping every other byte as it was. It is fast enough to
// sit in front of a busy web server as a piped logger: [NewWriter] gives an
// io.Writer that masks line by line, [Copy] masks a reader into a writer, and
// [Masker.AppendMask] masks a byte slice without allocating. For log/slog,
// [NewHandler] wraps any [slog.Handler] and masks every address in each
// record, and [Masker.ReplaceAttr] does the same through a built-in
// handler's options.
//
//	w, err := logmask.NewWriter(os.Stdout, ipmask.Default, nil)
//	...
//	fmt.Fprintln(w, `203.0.113.9 - - "GET / HTTP/1.1" 200 "2001:db8:1:2::7"`)
//	w.Close()
//	// 203.0.113.0 - - "GET / HTTP/1.1" 200 "2001:db8:1::"
//
// # What is an address
//
// The scanner looks only at tokens: maximal runs of hex digits, ':' and '.'.
// It finds, anywhere in a line (inside quotes, JSON, key=value pairs, URLs,
// comma-separated X-Forwarded-For lists):
//
//   - dotted IPv4 (203.0.113.9), also with a port (203.0.113.9:8080), or
//     with a port after a dot as tcpdump and dante write it
//     (192.0.2.1.43436; see below for versions);
//   - IPv6 in every RFC 4291 form: compressed (2001:db8::1), full, upper
//     case, with a dotted IPv4 tail (::ffff:192.0.2.1), with a %zone
//     (fe80::1%eth0, the zone is dropped), in brackets ([2001:db8::1] and
//     [2001:db8::1]:443, the brackets and port kept);
//   - an IPv6 address written with an unbracketed :port is masked as well.
//     Where the whole text parses as IPv6 the port is read as its last group
//     (2001:db8::1:443 is one address); where the masked address and the
//     port would read back as one longer address, the port is dropped, so
//     the output never holds an address that was not masked. So is a port
//     of four digits or fewer that the text after the address's first
//     group reads as the last group of: 12:2001:db8:1:2:3:4:5:6 (a key, as
//     a Cisco ASA interface name or a counter, before an address in full)
//     and Java 8's /2001:db8:a:b:0:0:0:2:8080 read also as the key "2001"
//     and an address, which keeps the port's bits, so both become
//     12:2001:db8:: and /2001:db8:a:: under /48; so are such digits before
//     a colon and a word (ZooKeeper's thread names,
//     AcceptThread:/0:0:0:0:0:0:0:1:2181:Factory). A port of five digits
//     cannot be a group and is kept (2001:db8:a:b:0:0:0:2:54321 becomes
//     2001:db8:a:::54321, also with a colon and a message after it,
//     2001:db8:a:b:0:0:0:2:54321: refused), and so is one after a key
//     (src:...);
//   - an IPv6 address followed by a '.' and a port, as tcpdump writes it
//     (2001:db8::1.443 > 2001:db8::2.22:);
//   - an address after a key and one colon, whatever the key ends in:
//     src:2001:db8::1, eth0:fe80::1%eth0, [IPv6:2001:db8::1] (sendmail,
//     postfix), v6(en0:2607:f8b0::1) (macOS configd), and after a lone
//     colon, which reads what follows it as it would after a space
//     (:2001:db8::1, and nine groups as a key and an address,
//     :2001:0:4136:e378:8000:9c48:9cbd:d37d:db, masked with both
//     readings; also where the address starts with "::" and
//     runs into a word (x :::ffff:192.0.2.1.log, unless it has fewer
//     than three groups, as an identifier's :::Factory), and after "::"
//     and a space or punctuation before it, as a separator writes it
//     (x ::2001:db8::1:2:3, ::::ffff:192.0.2.1, which then reads as
//     ::192.0.2.0 and masks to ::), where the address has
//     three groups or more (::Abc::Def is an identifier's);
//   - an IPv6 address right after a '.', as where a sentence or a name
//     ends right before it: ended.::ffff:cb00:7109 and x.2001:db8::1 (a
//     '.' starts no IPv6 address).
//
// Reverse DNS names, as resolvers, name servers and mail servers log
// their PTR lookups, are read as the address they stand for: up to four
// decimal labels before "in-addr.arpa" (9.113.0.203.in-addr.arpa is
// 203.0.113.9) and up to 32 hex nibbles before "ip6.arpa", in any case. Each
// label keeps the bits the policy keeps of that address (fewer labels
// stand for a network, the bits they do not give zero), so under /48 the
// last 20 nibbles of a full ip6.arpa name become 0. Four labels also read
// forward as a dotted quad, so they keep only the bits the policy keeps
// in both readings: 9.113.0.203.in-addr.arpa becomes
// 0.113.0.0.in-addr.arpa under /24. A name with more labels, or a label
// that is not an octet or a nibble, is read as any other text.
//
// Host names that write an address with hyphens, as ISPs' and clouds'
// reverse DNS names do and mail, ssh and web servers log them, are read as
// that address: a label of a name (a '.' and a letter or digit follow it)
// that ends in four octets joined by '-', the first starting the label
// (also after another label, www.203-0-113-9.sslip.io, but not after a
// ':' or a number and a '.', the end of other address text) or following
// a part that is not all digits.
// 203-0-113-9.dyn.example.net, ec2-203-0-113-9.compute-1.amazonaws.com and
// ip-10-0-0-5.ec2.internal become 203-0-113-0..., ec2-203-0-113-0... and
// ip-10-0-0-0... under /24, with a :port after the name or not
// (203-0-113-9.be:443). So is such a label with no name after it where
// a word and a '-' come before the four numbers, as where syslog writes a
// host name without its domain (ip-10-0-0-5 sshd[42]: and
// guest-203-0-113-9 kernel[0]: become ip-10-0-0-0 and
// guest-203-0-113-0), a port or a ':' after it or not. Five numbers
// (1-2-3-4-5.example.net), or four with no name after them and no word
// before them (build 1-2-3-4), are left alone, and a last
// number that starts a dotted quad (203-0-113-9.1.2.3) is read as that
// quad. A dotted quad before two or more labels of a name
// (9.113.0.203.static.example.net, static.9.113.0.203.clients.example.de,
// 203.0.113.9.nip.io) may write the address in either order, as reverse
// DNS names of ISPs and hosters do, so it keeps only the bits the policy
// keeps in both readings, as four in-addr.arpa labels do: under /24 these
// become 0.113.0.0.static..., static.0.113.0.0.clients... and
// 0.0.113.0.nip.io. One label after it is a file extension or the end of
// a sentence (203.0.113.9.png, 203.0.113.9.Done) and is read forward.
// A label that is an IPv6 address with '-' for ':' (seven dashes or a
// "--", and a '.' and a name after it), as sslip.io and some reverse DNS
// names write it, is masked and written the same way, its zero groups
// compressed to "--": 2001-db8-1-2--7.ipv6.example.net and
// ip6-2001-db8-1-2--7.example.net (a first group glued to a word is not
// read) become 2001-db8-1--.ipv6.example.net and ip6-2001-db8-1--... under
// /48. Eight numbers joined by '-' are such an address; where the last
// four groups also read as a hyphenated quad (2001-db8--1-2-3-4), both
// readings are masked, and a last group that starts a dotted quad
// (2001-db8--1.2.3.4) is read as that quad.
//
// A label that ends in eight hex digits, after nothing, one to four
// letters or a '-', with a name after it as for a dotted quad, is an IPv4
// address in hex, as German ISPs' reverse DNS names and nip.io write it:
// p5dc5a9f2.dip0.t-ipconnect.de and app-c633644d.nip.io become
// p5dc5a900... and app-c6336400... under /24 (a file name with two
// extensions, a1b2c3d4.tar.gz, is read so too). So is one that ends in
// twelve decimal digits, three to an octet, as other ISPs write it (sshd
// and PAM log rhost=n203000113009.netvigator.example, which becomes
// n203000113000... under /24). Host names that write an address in
// another encoding (an integer, decimal not zero-padded), or an IPv4
// address with hyphens in reverse order, are not recognised as such.
//
// Dovecot's session IDs hold the client's address: 16 or 32 base64
// characters encoding a timestamp, the client's port and its IPv4 or IPv6
// address, written after "session=<" in its login lines and after the
// process ID in its mail processes' line prefix ("imap(alice)<4321><...>").
// There the address is masked inside the ID, which keeps its timestamp and
// port and so still tells sessions apart: session=<ESIzRFVmOTDLAHEJ>
// (203.0.113.9) becomes session=<ESIzRFVmOTDLAHEA> under /24. Base64 is
// not decoded anywhere else.
//
// HAProxy's unique IDs, in the format its documentation gives
// (unique-id-format %{+X}o\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid, logged as
// 7F000001:8296_7F00001E:1F90_4F7B0A69_0003:790A), write the client's and
// the frontend's IPv4 address as eight hex digits, each followed by a
// colon, four hex digits (the port) and a '_'. There each address is
// masked in hex, in the case it was written in: CB007109:D431_... becomes
// CB007100:D431_... under /24.
//
// Linux audit's SOCKADDR records (audit.log, and audisp forwarding them
// to syslog) write the struct sockaddr a connect, bind or accept call was
// given in hex after "saddr=", right after the record's "audit(" and its
// timestamp and serial: the family (0200 for AF_INET, 0A00 for AF_INET6,
// little-endian, or 0002 and 000A), the port, then the address, after
// the 32-bit flow label for AF_INET6. There the address is masked in hex,
// in the case it was written in, the rest kept:
// msg=audit(1718092800.123:456): saddr=020001BBCB0071090000000000000000
// becomes saddr=020001BBCB0071000000000000000000 under /24. Other
// families (AF_UNIX paths, netlink) hold no internet address and are left
// alone. Hex digits are not read as an address anywhere else.
//
// Erlang and Elixir programs write an address as a tuple (inet's
// ip_address(), Plug's remote_ip, the peer in Cowboy's requests and crash
// reports): four decimal numbers up to 255, or eight up to 65535 for
// IPv6's groups, in braces, separated by commas with or without spaces.
// Each number is masked in place: peer => {{203,0,113,9},54321} and
// {8193, 3512, 1, 2, 0, 0, 0, 7} become {{203,0,113,0},54321} and
// {8193, 3512, 1, 0, 0, 0, 0, 0} under the default policy. A tuple of
// four small numbers that is something else (a version, a colour) is
// masked too.
//
// Addresses in URLs are found when percent-encoded, as query strings write
// them:
//
//   - "%3A" and "%3a" are read as ':' (2001%3Adb8%3A%3A1, and a port or a
//     "%25" zone after it); the masked address is written back with its
//     colons escaped the same way (2001%3Adb8%3A%3A under /48), or with
//     plain colons where the input mixed both forms;
//   - so are "%253A" and "%253a", a colon encoded twice, as a URL carried
//     in another URL's query string writes it
//     (?next=%2F%3Fip%3D2001%253Adb8%253A%253A1 becomes
//     ...2001%253Adb8%253A%253A), and "%25" and two digits, a space or a
//     quote encoded twice, before a dotted quad ("%2520198.51.100.7");
//   - a token right after a percent-escape is read without the escape's two
//     hex digits first, so "%5B2001:db8::1%5D", "ip%3D2001:db8::1" and
//     "%20198.51.100.7" (an escaped space, then the address) are found, and
//     read as a whole only if that fails;
//   - '%' and two upper-case hex digits with a letter among them ("%5D",
//     "%2C") end an address rather than start a zone, since interface names
//     are lower case and Windows zones are numbers; so do such escapes
//     encoded twice ("%255D", "%252C").
//
// Other double encoding is not decoded, and neither are '.' and hex
// digits, which URL encoders never escape.
//
// Other escapes whose last digits run into an address are read the same
// way, without their code digits first: JSON's \u0027 and \u0026 (Gson
// writes ' and & so, encoding/json &), "\x22" (C, nginx's escaped log
// variables), three octal digits after '#' (rsyslog writes a tab as
// "#011", as in forwarded Windows events: "Address:#011203.0.113.9") or
// after '\' (C). So \u0027203.0.113.9 becomes \u0027203.0.113.0 and
// #011::ffff:198.51.100.7 becomes #011198.51.100.0. Where the code digits
// and the address read together as a 6to4 or Teredo address, which embed
// an IPv4 address past their first group, they are read so, as the
// reading without them would keep that IPv4 address whole:
// #2002:cb00:7109::1 and %2002:cb00:7109::1 become #2002:cb00:7100:: and
// %2002:cb00:7100:: (not #2002:cb00:7109::, the address 2:cb00:7109::1
// after the escape #200 masked). HTML character
// references (&#58;) end in ';' and run into nothing; text with its
// colons written so is not decoded.
//
// Only the address changes: ports, brackets, quotes and the rest of the line
// are copied byte for byte, except address text next to a masked address
// that would read with it as another address (a port or hex digits run on
// after it, or a key before it), which is masked or dropped with it; see
// "Masked text masks to itself". An address that the policy already masks is kept
// exactly as written (an IPv4-mapped one too), unless it has a %zone, which
// is always dropped. Otherwise IPv4-mapped addresses become plain IPv4 (what
// [ipmask.Policy.Mask] returns) and IPv6 is written in its canonical form.
// A zone is '%' and up to 64 letters, digits, '_', '-' or '.', ending where
// address text cannot follow: a colon then ends it only if no address text
// or port follows the colon ("dial tcp fe80::1%eth0: refused" loses the
// zone, "fe80::1%eth0:8080" keeps it).
//
// # Ambiguous text, and which way it goes
//
// Where text could be an address or something else, logmask masks when
// leaving it would leak an address as a log writer would have meant it, and
// leaves it alone when no such writer would produce it. Each case has a test
// row.
//
//   - Five dotted numbers whose first four are an IPv4 address and whose
//     fifth is a port (at most five digits, 65535 or less) are an address
//     and a port: 192.0.2.1.43436 becomes 192.0.2.0.43436, and so does
//     1.2.3.4.5 (1.2.3.0.5), an OID or a version written bare. They are a
//     version, left alone, when a version marker is glued to their left: a
//     letter, '_', '/' or '-' (v1.2.3.4.5, OpenSSH_9.6.1.2.3,
//     nginx/1.25.3.1.2, pkg-1.2.3.4.5). Six or more dotted numbers
//     (1.3.6.1.4.1.311), and five whose last is not a port
//     (10.0.0.1.70000), are left alone. 1.2.3.4..5 and 1.2.3.4. (a
//     sentence's full stop) hold the address 1.2.3.4, which is masked.
//   - v2.0.1 and 10.1 (fewer than four numbers) are left alone.
//   - A dotted quad is masked even when glued to letters (v1.2.3.4,
//     host10.0.0.1, Foo/1.2.3.4): "v" cannot be told from "srv". A four-part
//     version whose parts are all 255 or less is therefore masked too, such
//     as Chrome/120.0.0.0, which a /24 policy leaves unchanged anyway.
//   - Leading zeros (192.000.002.001) are read as decimal and masked,
//     written back without them (192.0.2.0): loggers that zero-pad octets
//     mean decimal, and leaving such text alone would leak it.
//   - Times (12:30:28), log timestamps (2024:08:00:00) and MAC addresses
//     (00:1a:2b:3c:4d:5e) are left alone: six or fewer colon groups without
//     "::" are not IPv6. So are MAC addresses written with dashes, as
//     Windows and RADIUS write them (C3-CD-79-09-60-68: six groups of two
//     hex digits, nothing glued to either end), though their last four
//     groups may be decimal numbers that a word and a '-' come before
//     (below). An eight-group EUI-64 (00:1a:2b:3c:4d:5e:6f:70)
//     is a valid IPv6 address and is masked.
//   - An IPv6 address run straight into a word, that is into a letter
//     that is not a hex digit (g-z, G-Z) or '_', is masked: 2001:db8:1:2::7xyz
//     becomes 2001:db8:1::xyz, fe80::1ghost becomes fe80::ghost,
//     id=2001:db8:1:2::7zone becomes id=2001:db8:1::zone. The address is
//     the longest IPv6 address, as net/netip parses it, that the token
//     (after a key, if any) starts with, whatever follows it in the
//     token: 2001:db8:1:2::7abcdz (a last group of five digits) is read as
//     2001:db8:1:2::7abc, 1::2::3xyz as 1::2. Hex digits running on in the
//     last group are dropped with a masked address, as they could read
//     with the masked text as another one (2001:db8:1:2::7abcdz becomes
//     2001:db8:1::z, not 2001:db8:1::dz). This reading comes last:
//     a '.' before the word still parts an address from a file extension
//     (2001:db8::1.css), and a token with a word glued to its left is
//     read as a key and an address, or as an address run into the word
//     (below). A valid IPv6 address has
//     a "::" or eight groups, so times and MAC addresses run into a word
//     (12:30:28Z) are not read so; dotted quads run into words are found
//     as quads (above). Hex digits running on past an address with no
//     word after them (2001:db8::1abcd) are not an address.
//   - A colon token glued to a letter or '_' on its left (std::abs,
//     Foo::Bar, std::io::Error, sha256:abcdef) is an identifier and left
//     alone, unless it is a key
//     followed by one colon and an address (addr:2001:db8::1,
//     client:203.0.113.9, iface:2001:db8::1), which is masked. A key
//     that is all hex digits with nothing glued to its left (cafe:,
//     dead:) is first read as part of the address: where that reading
//     parses, it is masked whole (cafe:2001:db8:1:2::1 becomes
//     cafe:2001:db8::), which hides the key reading's address as well,
//     unless that address embeds an IPv4 address the policy keeps fewer
//     bits of: then it is masked too, in place (under /24 and /64,
//     cafe:2002:cb00:7109::1 becomes cafe:2002:cb00:7100::, the 6to4
//     address 2002:cb00:7109::1 masked; only policies that keep more than
//     32 IPv6 bits past their IPv4 bits need this, not the default);
//     where it does not, the key reading is taken, and if the key and the
//     masked address then read as one unmasked address, that is masked
//     too (dead:2001:db8:1:2:3:4:5:abc becomes dead:2001:db8::). (With SkipPrivate, a
//     whole reading that is private, such as fd12:2001:db8:1:2::1, a
//     unique local address, is kept whole, though it also reads as the
//     key fd12 and the public 2001:db8:1:2::1: no rule can tell it from
//     a key. fd:2001:db8::1 is not one: its first group is 00fd.)
//     A '.' separates an
//     address from a word after it: 2001:db8::1.gif, 2001:db8::1.css,
//     2001:db8::1.Done and 2001:db8::1.Added (a word of hex letters)
//     are masked.
//   - An IPv6 address run into the text on its left, a word or hex
//     digits. Where a token's first group is four hex digits glued to a
//     word, or more than four hex digits, and its last four hold a decimal
//     digit, the address that starts with those four is read first:
//     remote2001:db8:85a3::7 becomes remote2001:db8:85a3::,
//     abc2001:db8:1:2:3:4:5:6 becomes abc2001:db8:1::, and
//     x2001:db8:aaaa:bbbb::1 becomes x2001:db8:aaaa:: (read as the key
//     "2001" and an address, the group bbbb would have survived). After
//     a key and its colon, the next group is read so where it is longer
//     than four and the key reading fails: src:abc2001:db8:1:2::7 becomes
//     src:abc2001:db8:1::. Read so, two groups around a "::" whose
//     second holds no decimal digit are a type name ending in digits and
//     a method, left alone (Sha256::digest, X25519::add,
//     Ed25519::default); clientfe80::1 becomes clientfe80::. Four hex
//     letters ending the first group are a key's end (iface:, surface:,
//     deadface:) and are read so first. A token glued to a word whose
//     first group is shorter, and that reads as no key and address, is
//     read whole if it has three groups or more (xyab:1:2:3:4:5:6:7
//     becomes xyab:1:2::); two groups around a "::" are an identifier's
//     (std::abs, Vec::new). What this leaves: an address glued to a word
//     whose first group is shorter than four digits (x64:ff9b:1:abcd::1),
//     or glued to a word or hex digits whose first group is four hex
//     letters (hostfdab:cdef:1:2::1, abcfdab:cdef:1:2::1), is read as a
//     key and an address, so one group more than the policy keeps
//     survives (x64:ff9b:1:abcd::, hostfdab:cdef:1:2::); and two groups
//     around a "::" whose second holds no decimal digit (clientfe80::abcd)
//     are left alone. Global unicast (2000::/3), link-local (fe80::/10) and most
//     unique local addresses start with four digits, a decimal one among
//     them.
//   - Hex hashes, UUIDs and dates (deadbeef, 2024-06-11) hold no colon or
//     three dots and are left alone.
//   - A word, a '-' and four numbers up to 255 joined by '-' are a host
//     name, with a name after them or not (ip-10-0-0-5), and masked; so
//     is anything else written so, a tag or a date of small numbers
//     (run-24-6-11-10 becomes run-24-6-11-0), but a MAC address (above).
//     Four such numbers with no word before them (build 1-2-3-4) are left
//     alone.
//
// Not recognised: numeric forms that are not dotted quads (3221226219,
// 0xc0000201) but for HAProxy's unique IDs and audit's saddr, addresses encoded otherwise than above (base64 other than
// Dovecot's session IDs, %2E for dots, HTML character references), and
// digits other than ASCII ones (fullwidth ２０３.０.１１３.９).
//
// # Masked text masks to itself
//
// Masking is idempotent, and what it writes holds no address that the
// policy does not mask under any reading this documentation gives, with
// "%3A" read as ':' or not: [Addrs] finds in the output only masked
// addresses. A masked address can read otherwise next to the text it was
// cut from: with a key before it (0%3A%3A:1:0:0:0:0:1, read as the key
// 0: and ::1:0:0:0:0:1, masks to 0%3A0:0:1::, which decoded reads as
// 0:0:0:1::), or with the rest of its token or a port after it. So each
// stretch of text in which masking changed something is masked again,
// with the byte on either side of it, until it masks to itself:
// 0%3A%3A:1:0:0:0:0:1 becomes ::. A stretch runs between bytes that never
// touch an address (any byte but letters, digits, '_', '-', '.', ':' and
// '%'), which masking never changes; a stretch that is one address and
// nothing else, as in most logs, is done in one pass. Each pass only
// masks, so whatever it drops would have read as part of an address.
// Should a stretch still change after eight passes (no input known needs
// more than four), its ':', '.' and '%' become '_', which leaves nothing
// in it that reads as an address ('-' would not: ip-10-0-0-5 is one).
//
// # Output length
//
// Masked text is never longer than the address text it replaces, and holds
// no more colons, so free text never grows, percent-encoded or not. IPv6 is
// written in canonical form (RFC 5952) where that fits; where it does not,
// because masking made a longer run of zero groups elsewhere than where the
// input's "::" stood (0:0:1::1:0:1 under /96 would be ::1:0:0:1:0:0) or
// because canonical form spells a single zero group "0" (1::2:3:4:5:6:7
// under /120), the "::" stays on the run of zero groups where the input
// had it (0:0:1::1:0:0, 1::2:3:4:5:6:0). An IPv6 address written with a
// dotted tail keeps it, 64:ff9b::192.0.2.0, while any of those 32 bits
// survive. In field mode a
// replaced column becomes the placeholder, whatever their lengths.
//
// # Field mode
//
// With [Options].Fields, only the named columns are read, and each must hold
// an address list: addresses (with a zone, [v6], [v6]:port or v4:port)
// separated by commas, optionally in double quotes. Anything else (a host
// name, "unknown", an empty column) is replaced by the placeholder rather
// than passed through, since that is how a host name or a forged header
// would slip past; so is a percent-encoded address, which field mode does
// not decode. Columns are split at every delimiter byte (two spaces
// make an empty column, which is replaced too); an empty line stays empty,
// and a line with fewer columns passes through. A '\r' ending a line (a
// CRLF line ending, as IIS and other Windows programs write) is kept and
// is not part of the last column.
package logmask
