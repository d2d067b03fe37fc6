// Package geo answers, for the moment of a request, which country (and, if
// asked, which continent and autonomous system) an address belongs to, from
// a MaxMind-format database file the user supplies.
//
// It is the enrichment step of the tracker: the full client address is
// looked up once, the coarse answer is kept, and the address is not. Only
// the fields named in [Options.Fields] are ever decoded, into a small
// comparable [Facts]; a city, a subdivision, a postal code or coordinates
// are stepped over, never decoded, whatever the file holds.
//
// # Databases
//
// Any MaxMind DB (.mmdb) file works if its records use one of these layouts
// (a record may mix them; the first usable value of each fact wins):
//
//   - MaxMind GeoLite2/GeoIP2 Country and City, DB-IP Lite country and city:
//     country.iso_code, continent.code.
//   - MaxMind GeoLite2/GeoIP2 ASN, DB-IP Lite ASN, ip-location-db ASN:
//     autonomous_system_number (an unsigned integer).
//   - IPinfo Lite: country_code, continent_code, and asn as a string "AS123".
//   - IPinfo's older free country and country_asn files: country and
//     continent as two-letter strings, asn as "AS123".
//   - ip-location-db public-domain and CC0 country files: country_code.
//
// A country or continent is accepted only as two ASCII letters and returned
// in upper case from a fixed table, so a lookup never allocates. Names
// ("Germany", "North America") are ignored. registered_country (where the
// network's owner is registered) is never used in place of country (where
// the address is): a record without its own country answers "". A file in
// which no record holds any of the configured facts, in these layouts, is
// refused as the wrong file.
//
// # Embedded IPv4
//
// An IPv6 address that carries an IPv4 address is looked up by the IPv4
// address it carries: IPv4-mapped, IPv4-compatible, SIIT-translated, 6to4
// (the IPv4 at bits 16–47), Teredo (the client's de-obfuscated public IPv4,
// not the Teredo server that MaxMind's own IPv6 aliases point at) and NAT64
// 64:ff9b::/96 (see [ipmask.EmbeddedIPv4]). An ISATAP interface identifier
// alone does not count, since the IPv4 address there is usually private: the
// IPv6 address itself is looked up.
//
// # Reloading and failing open
//
// [Open] reads the whole file into memory (no memory map, so a file replaced
// or truncated in place cannot crash the process), walks every network and
// decodes each distinct record once, keeping the configured facts in a
// compact table: a damaged file is refused at load (a tree whose nodes
// share children, which would read as up to 2^128 networks, once it
// reaches eight networks per node; records that start inside one
// another, which would make the load's work grow with the square of the
// file's size, once it has read four values per byte of data), and a
// lookup is then a tree walk and a map read. (A country file of 1 million networks loads in
// under half a second; a City file has many more records, so its table
// takes more memory, 8 bytes of facts per record.) A watcher checks the file's identity, size and modification time every
// [Options.CheckEvery] and loads a changed file in the background; a
// reload swaps an immutable snapshot atomically, and lookups already running
// finish on the old one, which the garbage collector frees afterwards.
//
// A lookup never fails: a missing or corrupt replacement file keeps the last
// good database in service and logs an error (at most one line per
// [Options.LogEvery], with a count of what was suppressed); an address the
// database does not cover, or a damaged record, answers the zero [Facts]
// ("no country"). No error or log line carries an address.
package geo
