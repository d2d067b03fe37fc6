package geo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"sync/atomic"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2/mmdbdata"

	"github.com/clickanon/clickanon/ipmask/logmask"
)

// snapshot is one loaded database. It is immutable, so lookups share it
// without locks; a reload replaces it whole and the garbage collector frees
// the old one when the last lookup using it returns. Nothing is memory
// mapped and nothing needs closing.
type snapshot struct {
	reader   *maxminddb.Reader
	data     []byte            // the data section, which dec reads
	dec      *mmdbdata.Decoder // cursors over data; safe for concurrent reads
	ipv4Only bool
	info     Info
	// records holds the configured facts of every record, by data offset,
	// decoded once at load: a lookup is a tree walk and a map read.
	records map[uint32]record
	fields  Fields // the facts in records
	// codes memoises, while the load checks the file, the code read from
	// each country or continent map by its offset: records share such maps
	// through pointers, and one with a large value before its code would
	// cost a walk per record.
	codes map[codeAt]uint16
	// budget is how many values the load may still read (see charge).
	budget uint
}

// errOverlap is what charge returns when the load has read more values
// than the file can hold without records that overlap.
var errOverlap = errors.New("records overlap: reading them takes more steps than a data section of its size holds")

// charge counts against the load's budget the values a walk of the value
// at off reads, as maxminddb skips them: one step per value, a pointer
// not followed. Records and the maps they point at do not overlap in a
// file a writer made, so a load reads each value a few times at most; a
// file whose records start inside one another (a record one level into a
// nesting of thousands) would make the load read them as many times as
// there are records. The budget, four times the data section's length,
// refuses such a file after work in proportion to its size.
func (s *snapshot) charge(off uint) error {
	d := s.data
	for n := uint(1); n > 0; n-- {
		if s.budget == 0 {
			return errOverlap
		}
		s.budget--
		if off >= uint(len(d)) {
			return errors.New("a value runs past the data section")
		}
		ctrl := d[off]
		off++
		kind := ctrl >> 5
		if kind == 0 { // extended: the type is in the next byte
			if off >= uint(len(d)) {
				return errors.New("a value runs past the data section")
			}
			kind = 7 + d[off]
			off++
		}
		size := uint(ctrl & 0x1f)
		if kind == 1 { // a pointer, not followed
			off += (size>>3)&3 + 1
			continue
		}
		if size >= 29 {
			k := size - 28 // bytes of size that follow
			if off+k > uint(len(d)) {
				return errors.New("a value runs past the data section")
			}
			v := uint(0)
			for _, b := range d[off : off+k] {
				v = v<<8 | uint(b)
			}
			off += k
			size = [...]uint{29, 285, 65821}[k-1] + v
		}
		switch kind {
		case 7: // a map: its keys and values
			n += 2 * size
		case 11: // an array
			n += size
		case 14: // a bool: its size is its value
		default:
			off += size
		}
	}
	return nil
}

// codeAt is a map holding a code, and the key the code is under.
type codeAt struct {
	off   uint
	inner string
}

// mapWalks counts the country and continent maps walked, for the tests.
var mapWalks atomic.Int64

// record is the compact form of [Facts] that a snapshot keeps per record:
// codes as indexes into the codes table plus one, 0 for none.
type record struct {
	country, continent uint16
	asn                uint32
}

func (r record) facts() Facts {
	return Facts{Country: name(r.country), Continent: name(r.continent), ASN: r.asn}
}

// keep returns r with only the facts in want.
func (r record) keep(want Fields) record {
	if want&FieldCountry == 0 {
		r.country = 0
	}
	if want&FieldContinent == 0 {
		r.continent = 0
	}
	if want&FieldASN == 0 {
		r.asn = 0
	}
	return r
}

// The MaxMind DB format (https://maxmind.github.io/MaxMind-DB/): the search
// tree, 16 zero bytes, the data section, then this marker and the metadata.
var metadataMarker = []byte("\xAB\xCD\xEFMaxMind.com")

const dataSectionSeparator = 16

// maxKeys bounds the keys of a record, and of a map in it, that a lookup
// walks; real records have about a dozen.
const maxKeys = 1024

// maxFileSize bounds what load reads into memory: the largest commercial
// City databases are a fraction of it.
const maxFileSize = 1 << 30

// load reads a database file whole and verifies it.
func load(f io.Reader, fi os.FileInfo, fields Fields) (*snapshot, error) {
	size := fi.Size()
	if size > maxFileSize {
		return nil, fmt.Errorf("geo: database file too large (%d bytes, limit %d)", size, maxFileSize)
	}
	buf := make([]byte, 0, size+1) // +1 so a file growing while read is noticed by ReadAll's EOF
	buf, err := readAll(f, buf)
	if err != nil {
		return nil, fmt.Errorf("geo: cannot read the database file: %w", err)
	}
	s, err := parse(buf, fields)
	if err != nil {
		return nil, err
	}
	s.info.Size = int64(len(buf))
	return s, nil
}

func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= maxFileSize {
				return nil, errors.New("database file grew past the size limit while read")
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// parse opens buf as a MaxMind DB and checks every network and every
// record the way lookups will read them, so that a damaged file is refused
// at load time (and the previous one kept) rather than found out one
// lookup at a time.
//
// maxminddb's Reader.Verify is not used: it is stricter than the format
// specification (it refuses, for one, a file whose metadata has no
// description), and would turn away files that read correctly.
func parse(buf []byte, fields Fields) (*snapshot, error) {
	r, err := maxminddb.OpenBytes(buf)
	if err != nil {
		return nil, fmt.Errorf("geo: not a valid MaxMind DB file (%d bytes): %s", len(buf), openFault(buf, err))
	}
	md := r.Metadata
	if md.IPVersion != 4 && md.IPVersion != 6 {
		return nil, fmt.Errorf("geo: the database declares IP version %d (want 4 or 6)", md.IPVersion)
	}
	// The data section, located as the format specifies; OpenBytes has
	// checked the same bounds.
	start := md.NodeCount*md.RecordSize/4 + dataSectionSeparator
	end := bytes.LastIndex(buf, metadataMarker)
	if end < 0 || uint(end) < start {
		return nil, errors.New("geo: the database's data section is out of bounds")
	}
	data := buf[start:end]
	s := &snapshot{
		reader:   r,
		data:     data,
		dec:      mmdbdata.NewDecoder(data, 0),
		ipv4Only: md.IPVersion == 4,
		info:     Info{DatabaseType: declaredType(md.DatabaseType), BuildTime: md.BuildTime()},
		fields:   fields,
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return s, nil
}

// declaredType is the database type a file declares, as Info and the log
// pass it on: "" if it holds an address (in any form logmask finds), since
// the file's content is never quoted with one.
func declaredType(s string) string {
	for range logmask.Addrs([]byte(s)) {
		return ""
	}
	return s
}

// openFault says what kind of fault made maxminddb refuse to open buf,
// without its error's text: that quotes a metadata value of the wrong
// type, and the path of map keys to it, both the file's content.
func openFault(buf []byte, err error) string {
	var typeErr maxminddb.UnmarshalTypeError
	switch {
	case !bytes.Contains(buf, metadataMarker):
		return "no metadata marker"
	case errors.As(err, &typeErr):
		return "its metadata has a value of the wrong type"
	}
	return "its metadata or the size of its search tree cannot be read"
}

// check walks the whole search tree and decodes each distinct record once,
// keeping its configured facts in s.records. Every record a lookup can
// reach is one the walk sees: the IPv4 aliases it skips (::ffff:0:0/96,
// 2002::/16, 2001::/32) lead to the IPv4 subtree it walks.
//
// A file in which no record holds a configured fact in a layout geo reads
// is refused too: it is the wrong file (an ASN file where a country file
// was meant) and would answer "" to every lookup.
//
// A tree ends each network, with data or without, at one of its nodes'
// two records, so it holds at most twice as many networks as nodes (the
// walk skips the IPv4 aliases that point at the IPv4 subtree's root; a
// writer that aliased it elsewhere would make the walk read that subtree
// up to four times). Nodes that share children read as more, up to 2^128
// networks from 128 nodes: such a file is refused once the walk has seen
// eight networks per node, networks without data included, so that
// loading costs at most a walk of the file, never a walk of the paths
// through it.
func (s *snapshot) check() error {
	s.records = make(map[uint32]record)
	s.codes = make(map[codeAt]uint16)
	defer func() { s.codes = nil }() // lookups read records, not files
	s.budget = 4*uint(len(s.data)) + 4096
	n, useful := 0, false // networks with data
	leaves, nodes := uint(0), s.reader.Metadata.NodeCount
	for res := range s.reader.Networks(maxminddb.IncludeNetworksWithoutData()) {
		if leaves++; leaves > 8*nodes {
			return fmt.Errorf("geo: the database's search tree is damaged: it reaches more networks than its %d nodes can hold", nodes)
		}
		if res.Err() == nil && !res.Found() {
			continue // a network without data
		}
		n++
		if res.Err() != nil {
			return fmt.Errorf("geo: the database's search tree is damaged (network %d)", n)
		}
		off := res.Offset()
		if _, ok := s.records[uint32(off)]; ok {
			continue
		}
		if err := s.charge(uint(off)); err != nil {
			return fmt.Errorf("geo: the database's record for network %d cannot be read: %w", n, err)
		}
		rec, err := s.decode(uint(off), s.fields)
		if err != nil {
			return fmt.Errorf("geo: the database's record for network %d cannot be read: %w", n, err)
		}
		s.records[uint32(off)] = rec
		useful = useful || rec != record{}
	}
	if !useful {
		return fmt.Errorf("geo: none of the database's %d networks has a %s in a layout geo reads", n, s.fields)
	}
	return nil
}

// lookup finds a's record and returns the facts in want from it.
func (s *snapshot) lookup(a netip.Addr, want Fields) (Facts, error) {
	if s.ipv4Only && a.Is6() {
		return Facts{}, nil // an IPv4 database knows nothing of IPv6
	}
	res := s.reader.Lookup(a)
	if err := res.Err(); err != nil {
		return Facts{}, errors.New("geo: the search tree is damaged")
	}
	if !res.Found() {
		return Facts{}, nil
	}
	rec, ok := s.records[uint32(res.Offset())]
	if !ok { // check saw every reachable record; this would be a defect
		return Facts{}, fmt.Errorf("geo: a lookup reached a record the load did not see (data offset %d)", res.Offset())
	}
	return rec.keep(want).facts(), nil
}

// decode reads the fields in want from the record (a map) at off, walking
// its keys once and skipping every value it does not need; a record in
// another layout, or a value of an unexpected kind, leaves the fact unknown.
func (s *snapshot) decode(off uint, want Fields) (record, error) {
	var f record
	m, err := s.dec.CursorAt(off).MapReader()
	if err != nil {
		return record{}, err
	}
	if m.Len() > maxKeys {
		return record{}, fmt.Errorf("record has %d keys (limit %d)", m.Len(), maxKeys)
	}
	cur := m.First()
	for range m.Len() {
		key, val, err := cur.ReadMapKey()
		if err != nil {
			return record{}, err
		}
		switch string(key) {
		case "country": // GeoLite2, DB-IP: {"iso_code": "DE"}; old IPinfo: "DE"
			if want&FieldCountry != 0 && f.country == 0 {
				f.country, err = s.code(val, "iso_code")
			}
		case "country_code": // IPinfo Lite, ip-location-db
			if want&FieldCountry != 0 && f.country == 0 {
				f.country, err = s.code(val, "")
			}
		case "continent": // GeoLite2, DB-IP: {"code": "EU"}; old IPinfo: "EU"
			if want&FieldContinent != 0 && f.continent == 0 {
				f.continent, err = s.code(val, "code")
			}
		case "continent_code": // IPinfo Lite
			if want&FieldContinent != 0 && f.continent == 0 {
				f.continent, err = s.code(val, "")
			}
		case "autonomous_system_number", "asn": // GeoLite2-ASN, DB-IP; IPinfo: "AS123"
			if want&FieldASN != 0 && f.asn == 0 {
				f.asn, err = s.asn(val)
			}
		}
		if err != nil {
			return record{}, err
		}
		if cur, err = val.Skip(); err != nil {
			return record{}, err
		}
	}
	return f, nil
}

// code reads a two-letter code at c: a string, or, when inner is not "",
// a map holding it under the key inner.
func (s *snapshot) code(c mmdbdata.Cursor, inner string) (uint16, error) {
	kind, err := c.Kind()
	if err != nil {
		return 0, err
	}
	if kind == mmdbdata.KindMap && inner != "" {
		off, err := c.Offset()
		if err != nil {
			return 0, err
		}
		at := codeAt{off, inner}
		if v, ok := s.codes[at]; ok {
			return v, nil
		}
		if err := s.charge(off); err != nil {
			return 0, err
		}
		v, err := s.mapCode(c, inner)
		if err == nil && s.codes != nil {
			s.codes[at] = v
		}
		return v, err
	}
	b, err := s.shortString(c)
	if err != nil {
		return 0, err
	}
	return code(b), nil
}

// mapCode reads the two-letter code under the key inner of the map at c.
func (s *snapshot) mapCode(c mmdbdata.Cursor, inner string) (uint16, error) {
	mapWalks.Add(1)
	m, err := c.MapReader()
	if err != nil {
		return 0, err
	}
	if m.Len() > maxKeys {
		return 0, fmt.Errorf("map has %d keys (limit %d)", m.Len(), maxKeys)
	}
	cur := m.First()
	for range m.Len() {
		key, val, err := cur.ReadMapKey()
		if err != nil {
			return 0, err
		}
		if string(key) == inner {
			return s.code(val, "")
		}
		if cur, err = val.Skip(); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// asn reads an autonomous system number at c: an unsigned integer, or a
// string "AS123" (or "123").
func (s *snapshot) asn(c mmdbdata.Cursor) (uint32, error) {
	kind, err := c.Kind()
	if err != nil {
		return 0, err
	}
	switch kind {
	case mmdbdata.KindUint16, mmdbdata.KindUint32, mmdbdata.KindUint64:
		v, _, err := c.ReadUint()
		if err != nil || v > math.MaxUint32 {
			return 0, err
		}
		return uint32(v), nil
	case mmdbdata.KindString:
		b, err := s.shortString(c)
		if err != nil {
			return 0, err
		}
		return parseASN(b), nil
	}
	return 0, nil
}

// shortString returns the bytes of the string at c, in place, if it is a
// string of at most 28 bytes (the size that fits the control byte, which
// every code and ASN does); otherwise nil. The cursor API has no
// non-allocating string read, so this reads the control byte itself.
func (s *snapshot) shortString(c mmdbdata.Cursor) ([]byte, error) {
	off, err := c.Offset() // resolves a pointer
	if err != nil {
		return nil, err
	}
	if off >= uint(len(s.data)) {
		return nil, errors.New("value offset out of bounds")
	}
	ctrl := s.data[off]
	size := uint(ctrl & 0x1f)
	if mmdbdata.Kind(ctrl>>5) != mmdbdata.KindString || size >= 29 {
		return nil, nil
	}
	if size > uint(len(s.data))-off-1 {
		return nil, errors.New("string runs past the data section")
	}
	return s.data[off+1 : off+1+size], nil
}

// parseASN reads "AS123", "as123" or "123" (at most 4294967295).
func parseASN(b []byte) uint32 {
	if len(b) > 2 && (b[0]|0x20) == 'a' && (b[1]|0x20) == 's' {
		b = b[2:]
	}
	if len(b) == 0 || len(b) > 10 {
		return 0
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0
		}
		v = v*10 + uint64(c-'0')
	}
	if v > math.MaxUint32 {
		return 0
	}
	return uint32(v)
}

// codes holds every two-letter code, "AA" to "ZZ", so that a code read from
// the database is returned without allocating.
var codes = func() (t [26 * 26]string) {
	var all [2 * len(t)]byte
	for i := range t {
		all[2*i], all[2*i+1] = 'A'+byte(i/26), 'A'+byte(i%26)
	}
	s := string(all[:])
	for i := range t {
		t[i] = s[2*i : 2*i+2]
	}
	return t
}()

// code returns the index of b in codes plus one if it is two ASCII letters
// (in either case), and 0 otherwise.
func code(b []byte) uint16 {
	if len(b) != 2 {
		return 0
	}
	i, ok := letter(b[0])
	j, ok2 := letter(b[1])
	if !ok || !ok2 {
		return 0
	}
	return uint16(i*26+j) + 1
}

// name is the upper-case code of index i (from code), or "".
func name(i uint16) string {
	if i == 0 || int(i) > len(codes) {
		return ""
	}
	return codes[i-1]
}

func letter(c byte) (int, bool) {
	c |= 0x20 // lower case; leaves non-letters non-letters
	if c < 'a' || c > 'z' {
		return 0, false
	}
	return int(c - 'a'), true
}
