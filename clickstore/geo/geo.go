package geo

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clickanon/clickanon/ipmask"
)

// Fields selects the facts a [DB] decodes, as a set of bits. The zero
// Fields means [FieldCountry] alone. It is a plain value, safe to copy and
// share.
type Fields uint8

// The facts a lookup can return. Nothing finer than a country is offered.
const (
	FieldCountry   Fields = 1 << iota // two-letter country code (ISO 3166-1 alpha-2, or EU, AP...)
	FieldContinent                    // two-letter continent code
	FieldASN                          // autonomous system number

	allFields = FieldCountry | FieldContinent | FieldASN
)

// String names the facts in f, such as "country or ASN", for messages;
// the zero Fields is "none".
func (f Fields) String() string {
	var parts []string
	for _, n := range []struct {
		bit  Fields
		name string
	}{{FieldCountry, "country"}, {FieldContinent, "continent"}, {FieldASN, "ASN"}} {
		if f&n.bit != 0 {
			parts = append(parts, n.name)
		}
	}
	if f&^allFields != 0 {
		parts = append(parts, fmt.Sprintf("%#x", uint8(f&^allFields)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " or ")
}

// Facts are what a database says about one address, limited to the
// [Fields] configured. It is a small comparable value; its strings come
// from a fixed table, so returning one allocates nothing. The zero Facts
// means nothing is known (the address is not covered, the field was not
// asked for, or there is no database). Facts are safe to copy and share.
type Facts struct {
	// Country is the record's country code in upper case ("DE"), or "":
	// two ASCII letters as the database gives them, an ISO 3166-1
	// alpha-2 code or another (MaxMind's EU and AP for a network known
	// only to be in Europe or in Asia and the Pacific, XK, ZZ).
	Country string
	// Continent is a two-letter continent code in upper case (AF, AN, AS,
	// EU, NA, OC, SA in the databases listed in the package documentation),
	// or "".
	Continent string
	// ASN is the autonomous system number, or 0.
	ASN uint32
}

// Options configure [Open]. The zero Options (or a nil *Options) decode the
// country alone, check the file once a minute and log through
// slog.Default at most once a minute. Open copies what it needs and never
// modifies the caller's struct, which may be shared once Open returns.
type Options struct {
	// Fields selects the facts to decode; zero means FieldCountry.
	Fields Fields
	// CheckEvery is how often a watcher goroutine checks whether the file
	// changed (identity, size or modification time) and reloads it; zero
	// means one minute, a negative value starts no watcher (call
	// [DB.Reload] yourself, on SIGHUP say).
	CheckEvery time.Duration
	// LogEvery is the least time between two error lines about the same
	// database; zero means one minute. Errors in between are counted and
	// the count is logged with the next line. A file the watcher loads
	// after errors ends the interval: its "reloaded" line gives the count
	// not logged yet, and the next error is logged at once.
	LogEvery time.Duration
	// Logger receives reload errors and "database loaded" lines; nil means
	// slog.Default(). No line carries an address.
	Logger *slog.Logger
	// Now tells the time for the log rate limit and [Info.LoadedAt]; nil
	// means time.Now.
	Now func() time.Time
}

// Info describes the database in service, as [DB.Info] returns it. The
// zero Info describes no database. It is a plain value, safe to copy and
// share.
type Info struct {
	// DatabaseType is the type the file declares, such as
	// "GeoLite2-Country" or "ipinfo lite.mmdb"; "" if what it declares
	// holds an address, which geo never passes on.
	DatabaseType string
	// BuildTime is when the file says it was built.
	BuildTime time.Time
	// LoadedAt is when it was loaded, by [Options.Now].
	LoadedAt time.Time
	// Size is the file's length in bytes.
	Size int64
}

// DB looks up [Facts] in a MaxMind-format database file and reloads the
// file when it changes. It is safe for concurrent use: lookups take no lock
// and never wait for a reload.
//
// The zero DB, and a nil *DB, hold no database: every lookup answers the
// zero Facts and [DB.Reload] returns an error. So a service can keep
// calling a *DB that is nil when no database is configured.
type DB struct {
	path     string
	fields   Fields
	logEvery time.Duration
	logger   *slog.Logger
	now      func() time.Time

	snap atomic.Pointer[snapshot]

	mu       sync.Mutex  // serialises loads
	tried    os.FileInfo // the file the last load attempt read
	triedErr error       // and what went wrong with it, if anything

	logs limiter

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// Open loads the database at path and, unless [Options.CheckEvery] is
// negative, starts a watcher that reloads it when it changes; [DB.Close]
// stops the watcher. It returns an error if the options are invalid or the
// file cannot be read or is not a valid MaxMind DB file: a service started
// with a wrong path should hear of it. Later reloads fail open instead.
// No error quotes the path (it says how long it is, and what went wrong:
// errors.Is tells fs.ErrNotExist and fs.ErrPermission).
func Open(path string, opts *Options) (*DB, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	switch {
	case path == "":
		return nil, errors.New("geo: empty database path")
	case o.Fields&^allFields != 0:
		return nil, fmt.Errorf("geo: unknown Fields bits %#x", uint8(o.Fields&^allFields))
	case o.LogEvery < 0:
		return nil, errors.New("geo: negative LogEvery")
	}
	if o.Fields == 0 {
		o.Fields = FieldCountry
	}
	if o.CheckEvery == 0 {
		o.CheckEvery = time.Minute
	}
	if o.LogEvery == 0 {
		o.LogEvery = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	db := &DB{path: path, fields: o.Fields, logEvery: o.LogEvery, logger: o.Logger, now: o.Now}
	if _, err := db.reload(); err != nil {
		return nil, err
	}
	if o.CheckEvery > 0 {
		db.stop, db.done = make(chan struct{}), make(chan struct{})
		go db.watch(o.CheckEvery)
	}
	return db, nil
}

// Lookup returns the configured facts about addr. An IPv6 address that
// carries an IPv4 address is looked up by that IPv4 address (see the
// package documentation). The zero Addr, an address the database does not
// cover and a record that cannot be read all answer the zero Facts; a
// damaged record is also logged, without the address.
//
// Lookup does not allocate.
func (db *DB) Lookup(addr netip.Addr) Facts {
	if db == nil {
		return Facts{}
	}
	return db.lookup(addr, db.fields)
}

// Country returns the code of addr's country in upper case, as
// [Facts].Country (an ISO 3166-1 alpha-2 code, or MaxMind's EU or AP...),
// or "" (also when FieldCountry is not configured). It is the
// tracker's enrichment hook in one call:
//
//	Enrich: func(_ *http.Request, a netip.Addr) track.Attributes {
//		return track.Attributes{Country: db.Country(a)}
//	}
//
// Country does not allocate.
func (db *DB) Country(addr netip.Addr) string {
	if db == nil {
		return ""
	}
	return db.lookup(addr, db.fields&FieldCountry).Country
}

func (db *DB) lookup(addr netip.Addr, want Fields) Facts {
	s := db.snap.Load()
	if s == nil || want == 0 || !addr.IsValid() {
		return Facts{}
	}
	f, err := s.lookup(lookupAddr(addr), want)
	if err != nil {
		db.logError("geo: a database record cannot be read; answering no facts", err)
	}
	return f
}

// lookupAddr is the address whose network the database should be asked
// about: the IPv4 address an IPv6 address carries, if any, except for an
// ISATAP interface identifier, whose IPv4 address is usually private.
func lookupAddr(a netip.Addr) netip.Addr {
	if a.Is4() {
		return a
	}
	e, n := ipmask.EmbeddedIPv4(a)
	if n > 0 && e[0].Form != ipmask.ISATAP && e[0].IPv4.IsValid() {
		return e[0].IPv4
	}
	return a.WithZone("")
}

// Info describes the database in service; ok is false when there is none
// (the zero or nil DB).
func (db *DB) Info() (info Info, ok bool) {
	if db == nil {
		return Info{}, false
	}
	s := db.snap.Load()
	if s == nil {
		return Info{}, false
	}
	return s.info, true
}

// Reload loads the file again if it changed (another file, size or
// modification time) since the last attempt, and does nothing otherwise.
// On success the new database serves every lookup that starts afterwards.
// On failure the database in service stays, and Reload returns the error;
// it returns the same error, without reading the file again, until the file
// changes. Reload is safe to call at any time, from any goroutine, also
// while a watcher runs; it does not log.
func (db *DB) Reload() error {
	if db == nil || db.path == "" {
		return errors.New("geo: no database file (zero DB)")
	}
	_, err := db.reload()
	return err
}

// reload is Reload, also saying whether a new database went into service.
func (db *DB) reload() (loaded bool, err error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	f, err := os.Open(db.path)
	if err != nil {
		db.tried, db.triedErr = nil, fmt.Errorf("geo: cannot open the database file (its path is %d bytes long): %w", len(db.path), pathless(err))
		return false, db.triedErr
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("geo: cannot stat the database file: %w", pathless(err))
	}
	if db.tried != nil && sameFile(db.tried, fi) {
		return false, db.triedErr
	}
	db.tried = fi
	if !fi.Mode().IsRegular() { // a directory, a FIFO, /dev/zero: nothing to load, or no end to it
		db.triedErr = fmt.Errorf("geo: the database path is not a regular file (%s)", fi.Mode().Type())
		return false, db.triedErr
	}
	s, err := load(f, fi, db.fields)
	if err != nil {
		db.triedErr = err
		return false, err
	}
	s.info.LoadedAt = db.now()
	db.triedErr = nil
	db.snap.Store(s)
	return true, nil
}

// pathless returns err without the path an *fs.PathError quotes whole (a
// megabyte of it, a NUL byte, an address in a file name): an error says
// what went wrong, not what it was given. errors.Is still sees the cause
// (fs.ErrNotExist, fs.ErrPermission).
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// sameFile reports whether b is a and unchanged: a file replaced by a
// rename, or rewritten in place, differs in identity, size or time.
func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// Close stops the watcher, if any, and waits for it to finish. Lookups keep
// answering from the database last loaded. Close is idempotent and safe to
// call concurrently; it always returns nil.
func (db *DB) Close() error {
	if db == nil || db.stop == nil {
		return nil
	}
	db.stopOnce.Do(func() { close(db.stop) })
	<-db.done
	return nil
}

func (db *DB) watch(every time.Duration) {
	defer close(db.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
		}
		loaded, err := db.reload()
		switch {
		case err != nil:
			db.logError("geo: cannot reload the database; the previous one stays in service", err)
		case loaded:
			// A good file ends the burst: the next failure is said at
			// once, and those not said yet are counted here.
			notLogged := db.logs.reset()
			if s := db.snap.Load(); s != nil {
				db.logger.Info("geo: database reloaded", "type", s.info.DatabaseType,
					"build_time", s.info.BuildTime, "size", s.info.Size, "failures_not_logged", notLogged)
			}
		}
	}
}

// logError logs msg and err unless a line was logged less than LogEvery
// ago, in which case it only counts it.
func (db *DB) logError(msg string, err error) {
	if suppressed, ok := db.logs.allow(db.now(), db.logEvery); ok {
		db.logger.Error(msg, "err", err, "suppressed", suppressed)
	}
}

// limiter lets one event through per interval and counts the rest. It is
// lock-free, so a burst of failing lookups does not serialise on it.
type limiter struct {
	next       atomic.Int64 // Unix nanoseconds before which events are counted
	suppressed atomic.Int64
}

// reset ends the interval, so that the next event is let through, and
// returns how many were counted since the last one let through.
func (l *limiter) reset() int64 {
	l.next.Store(0)
	return l.suppressed.Swap(0)
}

func (l *limiter) allow(now time.Time, every time.Duration) (suppressed int64, ok bool) {
	t := now.UnixNano()
	next := l.next.Load()
	// Inside the interval the event is counted; a clock set back by more
	// than the interval does not silence the log for that long.
	inside := t < next && next-t <= int64(every)
	if inside || !l.next.CompareAndSwap(next, t+int64(every)) {
		l.suppressed.Add(1)
		return 0, false
	}
	return l.suppressed.Swap(0), true
}
