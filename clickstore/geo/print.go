package geo

import (
	"fmt"
	"io"
	"log/slog"
)

// String returns "geo.DB(" and the type of the database in service
// ")", e.g. "geo.DB(GeoLite2-Country)", or "geo.DB(none)" when it holds
// none. A DB prints and logs as that alone: fmt would otherwise walk its
// fields while a reload changes them (a data race), and print its file's
// path.
func (db *DB) String() string {
	if db == nil {
		return "geo.DB(nil)"
	}
	info, ok := db.Info()
	switch {
	case !ok:
		return "geo.DB(none)"
	case info.DatabaseType == "":
		return "geo.DB(loaded)"
	}
	return "geo.DB(" + info.DatabaseType + ")"
}

// Format implements [fmt.Formatter]: every verb prints [DB.String].
func (db *DB) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, db.String()) }

// LogValue implements [slog.LogValuer]: a DB logs as [DB.String].
func (db *DB) LogValue() slog.Value { return slog.StringValue(db.String()) }
