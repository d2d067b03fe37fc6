package sqlsink

import (
	"cmp"
	"errors"
	"hash/maphash"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
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
}

func (d *delta) add(n aggregate.Counts, v *clickstore.Pseudonym) {
	d.n = d.n.Add(n)
	if v == nil {
		return
	}
	if d.sk == nil {
		d.sk = newSketch()
	}
	d.sk.Insert(v[:])
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

// valueKey is one value of a dimension: text for country, referrer and
// device, a prefix for network (turned into text only when written).
type valueKey struct {
	text string
	net  netip.Prefix
}

// bucket is what the buffer holds for one bucketKey.
type bucket struct {
	total delta
	dims  [aggregate.Device]map[valueKey]*delta // indexed by Dimension-1
}

const shardCount = 16

// shard is one lock's worth of the buffer.
type shard struct {
	mu      sync.Mutex
	buckets map[bucketKey]*bucket
	adds    uint64 // Adds counted in buckets
	cells   int    // cells in buckets
}

// dims lists the dimensions below Total, in the order of bucket.dims.
var dims = [...]aggregate.Dimension{aggregate.Country, aggregate.Network, aggregate.Referrer, aggregate.Device}

func values(c *clickstore.Click) [len(dims)]valueKey {
	return [len(dims)]valueKey{{text: c.Country}, {net: c.Network}, {text: c.Referrer}, {text: c.Device}}
}

// add counts c in s if reserve grants the new cells it needs; it reports
// false, and changes nothing, if reserve refuses.
func (s *shard) add(c *clickstore.Click, n aggregate.Counts, v *clickstore.Pseudonym, reserve func(int) bool) bool {
	vals := values(c)
	var keys [len(granularities)]bucketKey
	var bs [len(granularities)]*bucket
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
			if _, ok := b.dims[j][vals[j]]; !ok {
				need++
			}
		}
	}
	if !reserve(need) {
		return false
	}
	for i, b := range bs {
		if b == nil {
			b = new(bucket)
			s.buckets[keys[i]] = b
		}
		b.total.add(n, v)
		for j := range dims {
			m := b.dims[j]
			if m == nil {
				m = make(map[valueKey]*delta)
				b.dims[j] = m
			}
			d := m[vals[j]]
			if d == nil {
				d = new(delta)
				m[vals[j]] = d
			}
			d.add(n, v)
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

func compareRows(a, b row) int {
	return cmp.Or(
		cmp.Compare(a.link, b.link),
		cmp.Compare(a.g, b.g),
		cmp.Compare(a.start, b.start),
		cmp.Compare(a.dim, b.dim),
		cmpBool(a.other, b.other),
		cmp.Compare(a.value, b.value),
	)
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
}

// buffer is the sharded in-memory delta that Add writes to.
type buffer struct {
	seed   maphash.Seed
	shards [shardCount]shard
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
	nowSec := now.Unix()
	for _, m := range taken {
		for k, bk := range m {
			if cfg.expired(k.g, k.start, nowSec) {
				continue
			}
			base := row{key: key{link: k.link, g: k.g, start: k.start}}
			r, err := deltaRow(base, aggregate.Total, valueKey{}, &bk.total)
			if err != nil {
				return nil, err
			}
			bt.rows = append(bt.rows, r)
			for j, d := range dims {
				for v, dl := range bk.dims[j] {
					r, err := deltaRow(base, d, v, dl)
					if err != nil {
						return nil, err
					}
					bt.rows = append(bt.rows, r)
				}
			}
		}
	}
	slices.SortFunc(bt.rows, compareRows)
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
				n := 1
				for _, d := range from.dims {
					n += len(d)
				}
				s.cells += n
				added += n
				s.mu.Unlock()
				continue
			}
			err = errors.Join(err, to.total.merge(&from.total))
			for j := range dims {
				for v, d := range from.dims[j] {
					if to.dims[j] == nil {
						to.dims[j] = make(map[valueKey]*delta)
					}
					if td := to.dims[j][v]; td != nil {
						err = errors.Join(err, td.merge(d))
						continue
					}
					to.dims[j][v] = d
					s.cells++
					added++
				}
			}
			s.mu.Unlock()
		}
	}
	s := &b.shards[0]
	s.mu.Lock()
	s.adds += bt.adds
	s.mu.Unlock()
	return added, err
}

func (d *delta) merge(o *delta) error {
	d.n = d.n.Add(o.n)
	switch {
	case o.sk == nil:
		return nil
	case d.sk == nil:
		d.sk = o.sk
		return nil
	}
	return d.sk.Merge(o.sk)
}

func deltaRow(r row, d aggregate.Dimension, v valueKey, dl *delta) (row, error) {
	r.dim = d
	switch {
	case d == aggregate.Network:
		r.value = v.net.String()
	default:
		r.value = v.text
	}
	r.n = dl.n
	if dl.sk != nil {
		b, err := dl.sk.MarshalBinary()
		if err != nil {
			return row{}, err
		}
		r.sketch = b
	}
	return r, nil
}
