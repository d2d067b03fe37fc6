package geo

import (
	"log/slog"
	"time"
)

// OpenBytes loads buf as Open loads a file, for fuzzing without a file
// per input.
func OpenBytes(buf []byte, fields Fields) (*DB, error) {
	s, err := parse(buf, fields)
	if err != nil {
		return nil, err
	}
	db := &DB{fields: fields, logger: slog.New(slog.DiscardHandler), now: time.Now, logEvery: time.Minute}
	db.snap.Store(s)
	return db, nil
}

// CountMapWalks returns how many country or continent maps the loader
// walked while f ran (f must not run alongside other loads).
func CountMapWalks(f func()) int64 {
	before := mapWalks.Load()
	f()
	return mapWalks.Load() - before
}
