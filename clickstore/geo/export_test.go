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
