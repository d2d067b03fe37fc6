package sqlsink

import (
	"fmt"
	"strconv"
	"strings"
)

// Dialect names the SQL database a [Sink] writes to. The two share one
// schema and one code path; they differ in how parameters are written and
// in how concurrent schema migrations are serialized.
//
// A Dialect is a small comparable value. The zero Dialect is not valid.
type Dialect uint8

const (
	// SQLite is an embedded database file, through the pure-Go driver
	// modernc.org/sqlite (registered as "sqlite"): nothing to install, no
	// cgo. One machine, one or a few processes.
	SQLite Dialect = iota + 1
	// PostgreSQL is a server shared by a fleet of instances, through
	// pgx's database/sql driver (registered as "pgx").
	PostgreSQL
)

// String returns "sqlite" or "postgresql", or "Dialect(N)".
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case PostgreSQL:
		return "postgresql"
	}
	return fmt.Sprintf("Dialect(%d)", uint8(d))
}

// placeholders appends n parameter markers, comma-separated, numbered from
// first (1-based): $1, $2 ... for PostgreSQL, ? for SQLite.
func (d Dialect) placeholders(sb *strings.Builder, first, n int) {
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		if d == PostgreSQL {
			sb.WriteByte('$')
			sb.WriteString(strconv.Itoa(first + i))
		} else {
			sb.WriteByte('?')
		}
	}
}

// values appends n rows of per parameter markers each, "(…),(…)", the
// rows of a multi-row VALUES, numbered from 1.
func (d Dialect) values(sb *strings.Builder, n, per int) {
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('(')
		d.placeholders(sb, i*per+1, per)
		sb.WriteByte(')')
	}
}

// rebind returns query with each ? replaced by PostgreSQL's $n; the queries
// it is given hold no ? in literals.
func (d Dialect) rebind(query string) string {
	if d != PostgreSQL {
		return query
	}
	var sb strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			sb.WriteByte('$')
			sb.WriteString(strconv.Itoa(n))
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// unixNow is the database's clock in Unix seconds, as SQL: batch tokens
// are stamped and swept by it, so that instances whose clocks disagree
// agree on a token's age.
func (d Dialect) unixNow() string {
	if d == PostgreSQL {
		return "extract(epoch from now())::bigint"
	}
	return "CAST(strftime('%s', 'now') AS INTEGER)"
}
