package sqlsink

import (
	"cmp"
	"errors"
	"hash/maphash"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/internal/hll"
)

// precision is the HyperLogLog precision of every sketch the sink writes:
// aggregate.DefaultPrecision. It is fixed, not an option, because sketches
// of different precisions cannot be merged and the database outlives any
// one configuration.
const precision = aggregate.DefaultPrecision

var granularities = [...]aggregate.Granularity{aggregate.Minute, aggregate.Hour, aggregate.Day}

// delta is what the buffer holds for one cell: counts to add and the
// sketch of the visitors seen (nil until the first).
type delta struct {
	n  aggregate.Counts
	sk *hyperloglog.Sketch
	// growth follows a sparse sk's size; dense is set once sk is dense.
	// As in a Rollup, a busy cell's sketch turns dense past hll.DenseAt
	// visitors (see package internal/hll), and the flush writes it so.
	growth hll.Growth
	dense  bool
}

// add adds n, and the visitor whose hash is h unless v is nil; scratch is
// the shard's buffer for the sketch's size checks.
func (d *delta) add(n aggregate.Counts, v *clickstore.Pseudonym, h uint64, scratch *[]byte) {
	d.n = d.n.Add(n)
	if v == nil {
		return
	}
	if d.sk == nil {
		d.sk = newSketch()
	}
	d.sk.InsertHash(h)
	if d.dense {
		return
	}
	if ds := d.growth.Inserted(d.sk, precision, scratch); ds != nil {
		d.sk, d.dense = ds, true
	}
}

// visitorHash returns hll.VisitorHash of v, or 0 for a nil v.
func visitorHash(v *clickstore.Pseudonym) uint64 {
	if v == nil {
		return 0
	}
	return hll.VisitorHash((*[16]byte)(v))
}

func newSketch() *hyperloglog.Sketch {
	sk, err := hyperloglog.NewSketch(precision, true)
	if err != nil {
		panic("sqlsink: unreachable: " + err.Error()) // precision is a valid constant
	}
	return sk
}

// bucketKey names one link's bucket of one granularity; start is in Unix
// seconds.
type bucketKey struct {
	link  string
	g     aggregate.Granularity
	start int64
}

// bucket is what the buffer holds for one bucketKey: the total and a map
// per dimension, keyed by the dimension's own type (as a Rollup's are, so
// that a lookup hashes no more than the value).
type bucket struct {
	total delta
	text  [3]map[string]*delta // country, referrer, device
	net   map[netip.Prefix]*delta
}

// dims lists the dimensions below Total, in the order get and put number
// them, which is Dimension order: drain relies on it to sort rows.
var dims = [...]aggregate.Dimension{aggregate.Country, aggregate.Network, aggregate.Referrer, aggregate.Device}

// textIndex maps a dimension's number to its index in bucket.text (-1 for
// Network).
var textIndex = [len(dims)]int{0, -1, 1, 2}

func textValue(c *clickstore.Click, j int) string {
	switch j {
	case 0:
		return c.Country
	case 2:
		return c.Referrer
	}
	return c.Device
}

// get returns the delta of dimension j's value in c, or nil.
func (b *bucket) get(j int, c *clickstore.Click) *delta {
	if j == 1 {
		return b.net[c.Network]
	}
	return b.text[textIndex[j]][textValue(c, j)]
}

// put stores d as dimension j's delta for c's value.
func (b *bucket) put(j int, c *clickstore.Click, d *delta) {
	if j == 1 {
		if b.net == nil {
			b.net = make(map[netip.Prefix]*delta)
		}
		b.net[c.Network] = d
		return
	}
	m := &b.text[textIndex[j]]
	if *m == nil {
		*m = make(map[string]*delta)
	}
	(*m)[textValue(c, j)] = d
}

// cells returns how many cells b holds.
func (b *bucket) cells() int {
	n := 1 + len(b.net)
	for _, m := range b.text {
		n += len(m)
	}
	return n
}

const shardCount = 16

// shard is one lock's worth of the buffer.
type shard struct {
	mu      sync.Mutex
	buckets map[bucketKey]*bucket
	adds    uint64 // Adds counted in buckets
	cells   int    // cells in buckets
	scratch []byte // for the sketches' size checks
}

// add counts c in s if reserve grants the new cells it needs; it reports
// false, and changes nothing, if reserve refuses.
func (s *shard) add(c *clickstore.Click, n aggregate.Counts, v *clickstore.Pseudonym, reserve func(int) bool) bool {
	var (
		keys [len(granularities)]bucketKey
		bs   [len(granularities)]*bucket
		ds   [len(granularities)][len(dims)]*delta // nil: a cell to create
	)
	need := 0
	for i, g := range granularities {
		keys[i] = bucketKey{link: c.Link, g: g, start: g.Start(c.Time).Unix()}
		b := s.buckets[keys[i]]
		bs[i] = b
		if b == nil {
			need += 1 + len(dims)
			continue
		}
		for j := range dims {
			if ds[i][j] = b.get(j, c); ds[i][j] == nil {
				need++
			}
		}
	}
	if !reserve(need) {
		return false
	}
	h := visitorHash(v)
	for i, b := range bs {
		if b == nil {
			b = new(bucket)
			s.buckets[keys[i]] = b
		}
		b.total.add(n, v, h, &s.scratch)
		for j := range dims {
			d := ds[i][j]
			if d == nil {
				d = new(delta)
				b.put(j, c, d)
			}
			d.add(n, v, h, &s.scratch)
		}
	}
	s.adds++
	s.cells += need
	return true
}

// key is a cell's primary key in the database.
type key struct {
	link  string
	g     aggregate.Granularity
	start int64
	dim   aggregate.Dimension
	other bool
	value string
}

// row is one cell of a batch, as written to the database.
type row struct {
	key
	n      aggregate.Counts
	sketch []byte // marshalled; nil when the cell has no visitor
}

// compareRows orders rows by key, field by field, comparing the strings
// only when the fields before them are equal.
func compareRows(a, b row) int {
	if c := strings.Compare(a.link, b.link); c != 0 {
		return c
	}
	if c := cmp.Compare(a.g, b.g); c != 0 {
		return c
	}
	if c := cmp.Compare(a.start, b.start); c != 0 {
		return c
	}
	if c := cmp.Compare(a.dim, b.dim); c != 0 {
		return c
	}
	if c := cmpBool(a.other, b.other); c != 0 {
		return c
	}
	return strings.Compare(a.value, b.value)
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

// batch is a drained buffer on its way to the database. Its token and rows
// never change once built, so a retry writes exactly what the first
// attempt did and the token makes it count once.
type batch struct {
	taken []map[bucketKey]*bucket // the buffer it was drained from, to restore
	token string
	rows  []row // sorted by compareRows: every writer locks rows in one order
	adds  uint64
	cells int // cells it took from the buffer bound (expired ones included)

	// maybeWritten is set once a commit of the batch was sent and its
	// reply lost: from then on the batch is only ever retried with its
	// token, never put back into the buffer.
	maybeWritten bool
}

// buffer is the sharded in-memory delta that Add writes to.
type buffer struct {
	seed   maphash.Seed
	shards [shardCount]shard

	// arenaHint is the size of the last drain's sketches, the next one's
	// first guess; only drain, run by one flush at a time, touches it.
	arenaHint int
}

func (b *buffer) init() {
	b.seed = maphash.MakeSeed()
	for i := range b.shards {
		b.shards[i].buckets = make(map[bucketKey]*bucket)
	}
}

func (b *buffer) shard(link string) *shard {
	return &b.shards[maphash.String(b.seed, link)%shardCount]
}

// drain empties the buffer into a batch, leaving out buckets past their
// retention at now. It returns nil if the buffer held nothing.
func (b *buffer) drain(cfg *config, now time.Time) (*batch, error) {
	taken := make([]map[bucketKey]*bucket, 0, shardCount)
	bt := &batch{}
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		if len(s.buckets) > 0 {
			taken = append(taken, s.buckets)
			s.buckets = make(map[bucketKey]*bucket)
		}
		bt.adds += s.adds
		bt.cells += s.cells
		s.adds, s.cells = 0, 0
		s.mu.Unlock()
	}
	if bt.adds == 0 && bt.cells == 0 {
		return nil, nil
	}
	bt.taken = taken
	// Rows are sorted by compareRows: buckets by key, and within a bucket
	// (rows in Dimension order) each dimension's values, which is far
	// cheaper than sorting every row against every other.
	type held struct {
		k  bucketKey
		bk *bucket
	}
	n := 0
	for _, m := range taken {
		n += len(m)
	}
	live := make([]held, 0, n)
	for _, m := range taken {
		for k, bk := range m {
			if !cfg.expired(k.g, k.start, now) {
				live = append(live, held{k, bk})
			}
		}
	}
	slices.SortFunc(live, func(a, b held) int {
		if c := strings.Compare(a.k.link, b.k.link); c != 0 {
			return c
		}
		if c := cmp.Compare(a.k.g, b.k.g); c != 0 {
			return c
		}
		return cmp.Compare(a.k.start, b.k.start)
	})
	bt.rows = make([]row, 0, bt.cells)
	arena := make([]byte, 0, b.arenaHint) // the batch's marshalled sketches, one after another
	for _, h := range live {
		base := row{key: key{link: h.k.link, g: h.k.g, start: h.k.start}}
		var err error
		if bt.rows, arena, err = appendRow(bt.rows, arena, base, aggregate.Total, "", &h.bk.total); err != nil {
			return nil, err
		}
		for j, d := range dims { // in Dimension order
			from := len(bt.rows)
			if textIndex[j] < 0 {
				for v, dl := range h.bk.net {
					if bt.rows, arena, err = appendRow(bt.rows, arena, base, d, v.String(), dl); err != nil {
						return nil, err
					}
				}
			} else {
				for v, dl := range h.bk.text[textIndex[j]] {
					if bt.rows, arena, err = appendRow(bt.rows, arena, base, d, v, dl); err != nil {
						return nil, err
					}
				}
			}
			slices.SortFunc(bt.rows[from:], func(a, b row) int { return strings.Compare(a.value, b.value) })
		}
	}
	b.arenaHint = len(arena) + len(arena)/8
	return bt, nil
}

// restore puts back into the buffer a batch that was certainly not
// written, merging it with what was added since. It returns how many cells
// the buffer holds now that it did not hold before.
func (b *buffer) restore(bt *batch) (int, error) {
	added := 0
	var err error
	for _, m := range bt.taken {
		for k, from := range m {
			s := b.shard(k.link)
			s.mu.Lock()
			to := s.buckets[k]
			if to == nil {
				s.buckets[k] = from
				n := from.cells()
				s.cells += n
				added += n
				s.mu.Unlock()
				continue
			}
			err = errors.Join(err, to.total.merge(&from.total))
			n, merr := mergeMap(&to.net, from.net)
			err = errors.Join(err, merr)
			for i := range to.text {
				m, merr := mergeMap(&to.text[i], from.text[i])
				n += m
				err = errors.Join(err, merr)
			}
			s.cells += n
			added += n
			s.mu.Unlock()
		}
	}
	s := &b.shards[0]
	s.mu.Lock()
	s.adds += bt.adds
	s.mu.Unlock()
	return added, err
}

// mergeMap merges the deltas of from into *to and returns how many cells
// it added.
func mergeMap[K comparable](to *map[K]*delta, from map[K]*delta) (int, error) {
	added := 0
	var err error
	for v, d := range from {
		if *to == nil {
			*to = make(map[K]*delta, len(from))
		}
		if td := (*to)[v]; td != nil {
			err = errors.Join(err, td.merge(d))
			continue
		}
		(*to)[v] = d
		added++
	}
	return added, err
}

// merge adds o into d, keeping d.dense true to its sketch: a dense sketch
// taken from o, or merged in (which turns d's dense in place), is not
// checked for growth again (as in aggregate's cell.merge).
func (d *delta) merge(o *delta) error {
	d.n = d.n.Add(o.n)
	switch {
	case o.sk == nil:
		return nil
	case d.sk == nil:
		d.sk, d.growth, d.dense = o.sk, o.growth, o.dense
		return nil
	}
	if err := d.sk.Merge(o.sk); err != nil {
		return err
	}
	d.dense = d.dense || o.dense
	return nil
}

// appendRow appends to rows the row of dimension d's value v in base's
// bucket, whose delta is dl; its sketch is marshalled at the end of arena,
// so that a batch's sketches share a few large allocations.
func appendRow(rows []row, arena []byte, base row, d aggregate.Dimension, v string, dl *delta) ([]row, []byte, error) {
	r := base
	r.dim, r.value = d, v
	r.n = dl.n
	if dl.sk != nil {
		start := len(arena)
		var err error
		if arena, err = dl.sk.AppendBinary(arena); err != nil {
			return rows, arena, err
		}
		r.sketch = arena[start:len(arena):len(arena)]
	}
	return append(rows, r), arena, nil
}
