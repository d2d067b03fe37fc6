package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"sort"

	"github.com/clickanon/clickanon/clickstore/geo"
	"github.com/clickanon/clickanon/clickstore/track"
)

// geoTargets are a link's geo redirects: the URL for visitors from a
// country, else from a continent, else the link's URL. Countries and
// continents are separate maps because their codes overlap (NA is Namibia
// and North America, AS American Samoa and Asia, AF, SA...).
type geoTargets struct {
	Countries  map[string]string `json:"countries,omitempty"`  // two-letter country code, as geo.Facts gives it (ISO 3166-1 alpha-2, EU, AP...) -> URL
	Continents map[string]string `json:"continents,omitempty"` // AF AN AS EU NA OC SA -> URL
}

// maxGeoTargets bounds the targets of one link: every country and
// continent, with room to spare.
const maxGeoTargets = 300

var continents = map[string]bool{"AF": true, "AN": true, "AS": true, "EU": true, "NA": true, "OC": true, "SA": true}

// IsZero reports that there are no targets (and makes omitzero omit empty maps).
func (g geoTargets) IsZero() bool { return len(g.Countries) == 0 && len(g.Continents) == 0 }

// validate checks every code and URL and returns the targets with codes
// in upper case. Errors name the code (a country, not a visitor) and what
// is wrong with its URL, never the URL.
func (g geoTargets) validate() (geoTargets, error) {
	if n := len(g.Countries) + len(g.Continents); n > maxGeoTargets {
		return geoTargets{}, fmt.Errorf("%w: %d geo targets, more than %d", errBadURL, n, maxGeoTargets)
	}
	var out geoTargets
	var err error
	if out.Countries, err = validTargets(g.Countries, "country", func(string) bool { return true }); err != nil {
		return geoTargets{}, err
	}
	if out.Continents, err = validTargets(g.Continents, "continent", func(code string) bool { return continents[code] }); err != nil {
		return geoTargets{}, err
	}
	return out, nil
}

func validTargets(m map[string]string, kind string, known func(string) bool) (map[string]string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	codes := make([]string, 0, len(m))
	for code := range m {
		codes = append(codes, code)
	}
	sort.Strings(codes) // the first fault reported is always the same
	out := make(map[string]string, len(m))
	for _, code := range codes {
		up, ok := upperCode(code)
		if !ok {
			return nil, fmt.Errorf("%w: geo %s codes are two letters: a %d-byte code is not one", errBadURL, kind, len(code))
		}
		if !known(up) {
			return nil, fmt.Errorf("%w: a geo %s code is not one of AF AN AS EU NA OC SA", errBadURL, kind)
		}
		u, err := validateURL(m[code])
		if err != nil {
			return nil, fmt.Errorf("geo %s %s: %w", kind, up, err)
		}
		if _, dup := out[up]; dup {
			return nil, fmt.Errorf("%w: geo %s %s is given twice", errBadURL, kind, up)
		}
		out[up] = u
	}
	return out, nil
}

// upperCode returns s in upper case if it is two ASCII letters.
func upperCode(s string) (string, bool) {
	if len(s) != 2 {
		return "", false
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case 'A' <= c && c <= 'Z':
		default:
			return "", false
		}
	}
	return string(b), true
}

// encode is the geo_json column: "" when there are no targets.
func (g geoTargets) encode() (string, error) {
	if g.IsZero() {
		return "", nil
	}
	b, err := json.Marshal(g)
	return string(b), err
}

func decodeGeo(s string) (geoTargets, error) {
	var g geoTargets
	if s == "" {
		return g, nil
	}
	if err := json.Unmarshal([]byte(s), &g); err != nil {
		return geoTargets{}, fmt.Errorf("the %d-byte geo targets of a link do not decode", len(s))
	}
	return g, nil
}

// target is the URL for a visitor with facts f.
func (l Link) target(f geo.Facts) string {
	if u, ok := l.Geo.Countries[f.Country]; ok && f.Country != "" {
		return u
	}
	if u, ok := l.Geo.Continents[f.Continent]; ok && f.Continent != "" {
		return u
	}
	return l.URL
}

// openGeo opens the -geoip database, if one is named: the country fills
// the statistics' country breakdown, the country and continent choose a
// link's geo target. A nil *geo.DB answers nothing, so without -geoip
// every visitor gets the link's URL.
func openGeo(path string, opts *geo.Options) (*geo.DB, error) {
	if path == "" {
		return nil, nil
	}
	db, err := geo.Open(path, opts)
	if err != nil {
		return nil, fmt.Errorf("-geoip: %w", err)
	}
	return db, nil
}

// enrichCountry is the tracker's Enrich hook: the visitor's country, from
// the full address, for the moment of the request.
func enrichCountry(db *geo.DB) func(*http.Request, netip.Addr) track.Attributes {
	if db == nil {
		return nil
	}
	return func(_ *http.Request, a netip.Addr) track.Attributes {
		return track.Attributes{Country: db.Country(a)}
	}
}
