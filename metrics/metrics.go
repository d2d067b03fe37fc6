// Package metrics exports what a clickanon service does as Prometheus
// metrics: clicks by outcome and uniqueness, store sweeps and the age of
// the oldest click held (the figure that proves the retention promise),
// key ages, sink flushes and client-address resolutions.
//
// It is a package of its own so that a service that does not want
// Prometheus does not import client_golang. Make a [Metrics] with [New] on
// a registry of your choice, then add the parts of the service:
//
//	m, err := metrics.New(prometheus.DefaultRegisterer, nil)
//	err = m.Tracker("default", tracker)
//	err = m.Resolver("default", resolver)
//	err = m.Keyring("default", keyring)
//	swept, err := m.Sweep("memory", store) // give swept to the retention.Sweeper
//
// Figures are read from each part's Stats method when Prometheus scrapes,
// so adding a part costs its hot path nothing; only [Metrics.Sweep] wraps
// something, the sweep, which runs once a second.
//
// No label ever carries an address, a network, a pseudonym or a link: the
// only label values are the fixed outcome names below and the part names
// the caller gives, which must be letters, digits, '_' and '-' (no '.' and
// no ':') and must not spell an address with '-' or '_' for its '.' or
// ':', as host names do ("ip-203-0-113-9", "203-0-113-9-eu" and
// "2001-db8--7" are refused; so is a name such as "ab--cd", which reads as
// the IPv6 address ab::cd), so no address or network can be one.
//
// The metrics, with the default namespace "clickanon":
//
//	clickanon_tracker_requests_total{tracker,outcome}    counted, excluded, opted-out, unresolved, unattributed, failed, unserved, no-link
//	clickanon_tracker_clicks_total{tracker,uniqueness}   unique, repeat, unknown
//	clickanon_tracker_bot_clicks_total{tracker}
//	clickanon_tracker_conversions_total{tracker}
//	clickanon_tracker_masked_addresses_total{tracker}    requests whose address a middleware had masked already
//	clickanon_tracker_over_quota_clicks_total{tracker}   counted but not held: the network was at its quota
//	clickanon_tracker_store_failures_total{tracker}
//	clickanon_tracker_store_full_total{tracker}          records the store refused because it was full
//	clickanon_tracker_sink_failures_total{tracker}
//	clickanon_tracker_key_fallbacks_total{tracker}       clicks counted under a local key (uniqueness unknown)
//	clickanon_store_sweeps_total{store}
//	clickanon_store_sweep_errors_total{store}
//	clickanon_store_swept_total{store}                   entries the sweeps destroyed
//	clickanon_store_held{store}                          entries held after the last successful sweep
//	clickanon_store_oldest_age_seconds{store}            age of the oldest of them
//	clickanon_store_last_sweep_timestamp_seconds{store}  when the last successful sweep ran
//	clickanon_store_sweep_duration_seconds{store}        histogram
//	clickanon_store_errors_total{store,op}               record, latest, sweep, index ([Metrics.Store])
//	clickanon_store_restarts_total{store}                the server lost its data
//	clickanon_store_refused_full_total{store}            clicks refused, the store being full
//	clickanon_store_index_dropped_total{store}           index entries lost (clicks still held and counted)
//	clickanon_keyring_keys_held{keyring}
//	clickanon_keyring_oldest_key_age_seconds{keyring}
//	clickanon_keyring_keys_destroyed_total{keyring}
//	clickanon_keyring_failures_total{keyring}            key store or random source failures
//	clickanon_keyring_local_keys_total{keyring}          local keys made while the key store failed
//	clickanon_keyring_local{keyring}                     1 while a local key stands in
//	clickanon_sink_flushes_total{sink}
//	clickanon_sink_flush_errors_total{sink}
//	clickanon_sink_written_total{sink}                   increments written
//	clickanon_sink_buffered{sink}                        increments waiting to be written
//	clickanon_sink_dropped_total{sink}                   increments refused or lost
//	clickanon_clientip_resolutions_total{resolver,outcome}  resolved, no-addr, untrusted, malformed
//	clickanon_clientip_header_resolutions_total{resolver}   the resolved ones read from a trusted proxy's header
//
// Two alerts prove the retention promise: the oldest held click is older
// than the window plus the sweep interval
// (clickanon_store_oldest_age_seconds{store="memory"} > 1800 + 1 by
// default), or sweeps stopped succeeding (time() -
// clickanon_store_last_sweep_timestamp_seconds > a few intervals). The
// first must select the stores that hold clicks by their label: anything
// else swept through [Metrics.Sweep] has a retention of its own and holds
// entries older than the window by design (a keyring's keys live a window
// and a grace window, a sink's statistics buckets days), so without the
// selector it fires on them.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/logmask"
	"github.com/clickanon/clickanon/retention"
)

// Options configures [New]. The zero value, and a nil *Options, mean the
// defaults given field by field. New copies what it needs and does not
// modify the struct; changing it afterwards has no effect.
type Options struct {
	// Namespace prefixes every metric name. "" means "clickanon"; anything
	// else must match [a-z_][a-z0-9_]*.
	Namespace string

	// Now is the clock sweeps are timed with. Nil means time.Now.
	Now func() time.Time
}

// Metrics exports what the parts of a clickanon service do. Parts are
// added with its methods ([Metrics.Tracker], [Metrics.Sweep], ...); each
// kind of part takes a name, unique among parts of that kind, which
// becomes a label value.
//
// A Metrics is safe for concurrent use. The zero Metrics is not usable;
// make one with [New]: adding a part to it, or to a nil *Metrics, is an
// error.
type Metrics struct {
	now func() time.Time
	d   descs

	mu      sync.Mutex
	names   map[string]bool // kind + "/" + name already added
	sources []func(ch chan<- prometheus.Metric)

	sweepDur *prometheus.HistogramVec
}

// descs are the metrics' descriptions, one per metric name, shared by
// every part of a kind.
type descs struct {
	requests, clicks, bots, conversions, masked, overQuota, storeFailures, storeFull, sinkFailures, keyFallbacks *prometheus.Desc
	sweeps, sweepErrors, swept, held, oldest, lastSweep                                                          *prometheus.Desc
	keysHeld, keyAge, keysDestroyed, keyFailures, localKeys, localNow                                            *prometheus.Desc
	flushes, flushErrors, written, buffered, dropped                                                             *prometheus.Desc
	resolutions, headerResolutions                                                                               *prometheus.Desc
	storeErrors, storeRestarts, storeRefusedFull, storeIndexDropped                                              *prometheus.Desc
}

func (d *descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{
		d.requests, d.clicks, d.bots, d.conversions, d.masked, d.overQuota, d.storeFailures, d.storeFull, d.sinkFailures, d.keyFallbacks,
		d.sweeps, d.sweepErrors, d.swept, d.held, d.oldest, d.lastSweep,
		d.keysHeld, d.keyAge, d.keysDestroyed, d.keyFailures, d.localKeys, d.localNow,
		d.flushes, d.flushErrors, d.written, d.buffered, d.dropped,
		d.resolutions, d.headerResolutions,
		d.storeErrors, d.storeRestarts, d.storeRefusedFull, d.storeIndexDropped,
	}
}

// New returns a Metrics whose collector is registered on reg. A nil reg,
// or a nil pointer such as a nil *prometheus.Registry, is an error: the
// caller chooses the registry (prometheus.DefaultRegisterer
// or one of its own). Registering twice on one registry with the same
// namespace is an error from reg.
func New(reg prometheus.Registerer, opts *Options) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("metrics: New: nil Registerer")
	}
	if v := reflect.ValueOf(reg); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, fmt.Errorf("metrics: New: nil Registerer (a nil %T)", reg)
	}
	ns := "clickanon"
	m := &Metrics{now: time.Now, names: map[string]bool{}}
	if opts != nil {
		if opts.Namespace != "" {
			if !validNamespace(opts.Namespace) {
				return nil, fmt.Errorf("metrics: New: Namespace of %d bytes is not a metric name prefix ([a-z_][a-z0-9_]*)", len(opts.Namespace))
			}
			ns = opts.Namespace
		}
		if opts.Now != nil {
			m.now = opts.Now
		}
	}
	desc := func(subsystem, name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, subsystem, name), help, labels, nil)
	}
	m.d = descs{
		requests:      desc("tracker", "requests_total", "Requests the tracker saw, by outcome (counted, or why not).", "tracker", "outcome"),
		clicks:        desc("tracker", "clicks_total", "Clicks counted, by uniqueness.", "tracker", "uniqueness"),
		bots:          desc("tracker", "bot_clicks_total", "Clicks counted that carried a bot label (all are repeats).", "tracker"),
		conversions:   desc("tracker", "conversions_total", "Conversions counted.", "tracker"),
		masked:        desc("tracker", "masked_addresses_total", "Requests not counted because a middleware had masked the address already.", "tracker"),
		overQuota:     desc("tracker", "over_quota_clicks_total", "Clicks counted but not held, their network being at its quota.", "tracker"),
		storeFailures: desc("tracker", "store_failures_total", "Clicks and conversions whose store call failed (uniqueness unknown, or unattributed).", "tracker"),
		storeFull:     desc("tracker", "store_full_total", "Clicks the store refused because it was full.", "tracker"),
		sinkFailures:  desc("tracker", "sink_failures_total", "Clicks and conversions the sink refused.", "tracker"),
		keyFallbacks:  desc("tracker", "key_fallbacks_total", "Clicks counted under a local key while the key store failed (uniqueness unknown).", "tracker"),

		sweeps:      desc("store", "sweeps_total", "Sweeps of the store.", "store"),
		sweepErrors: desc("store", "sweep_errors_total", "Sweeps of the store that failed.", "store"),
		swept:       desc("store", "swept_total", "Entries the store's sweeps destroyed.", "store"),
		held:        desc("store", "held", "Entries the store held after its last successful sweep.", "store"),
		oldest:      desc("store", "oldest_age_seconds", "Age of the oldest entry the store held at its last successful sweep; for a store of clicks, above the window plus the sweep interval, retention is broken (other stores keep entries longer by design).", "store"),
		lastSweep:   desc("store", "last_sweep_timestamp_seconds", "When the last successful sweep of the store ran, in Unix seconds; 0 before the first.", "store"),

		keysHeld:      desc("keyring", "keys_held", "Epoch keys held in process memory.", "keyring"),
		keyAge:        desc("keyring", "oldest_key_age_seconds", "Time since the epoch of the oldest key held began; below twice the window when keys die on time.", "keyring"),
		keysDestroyed: desc("keyring", "keys_destroyed_total", "Epoch keys destroyed.", "keyring"),
		keyFailures:   desc("keyring", "failures_total", "Times the key store or random source failed to give a key.", "keyring"),
		localKeys:     desc("keyring", "local_keys_total", "Local keys made because the key store failed.", "keyring"),
		localNow:      desc("keyring", "local", "1 while a local key stands in for the shared one, else 0.", "keyring"),

		flushes:     desc("sink", "flushes_total", "Batches the sink wrote.", "sink"),
		flushErrors: desc("sink", "flush_errors_total", "Failed attempts to write a batch.", "sink"),
		written:     desc("sink", "written_total", "Increments written to durable storage.", "sink"),
		buffered:    desc("sink", "buffered", "Increments in memory, waiting to be written.", "sink"),
		dropped:     desc("sink", "dropped_total", "Increments refused for a full buffer, or not written at close.", "sink"),

		storeErrors:       desc("store", "errors_total", "Store calls that failed, by operation (record, latest, sweep, index).", "store", "op"),
		storeRestarts:     desc("store", "restarts_total", "Times the store found its server had lost its data (a restart): the window's clicks are gone.", "store"),
		storeRefusedFull:  desc("store", "refused_full_total", "Clicks the store refused because it was full.", "store"),
		storeIndexDropped: desc("store", "index_dropped_total", "Index entries lost to failed writes or a full queue (the clicks are still held and counted).", "store"),

		resolutions:       desc("clientip", "resolutions_total", "Client address resolutions, by outcome.", "resolver", "outcome"),
		headerResolutions: desc("clientip", "header_resolutions_total", "Resolved client addresses read from a trusted proxy's header (the rest are the peer's).", "resolver"),
	}
	m.sweepDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns,
		Subsystem: "store",
		Name:      "sweep_duration_seconds",
		Help:      "How long one sweep of the store took.",
		Buckets:   prometheus.ExponentialBuckets(1e-5, 4, 10),
	}, []string{"store"})
	if err := reg.Register(collector{m}); err != nil {
		return nil, fmt.Errorf("metrics: New: %w", err)
	}
	return m, nil
}

// collector is the Metrics as a prometheus.Collector: every part writes
// its figures as constant metrics at scrape time.
type collector struct{ m *Metrics }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.m.d.all() {
		ch <- d
	}
	c.m.sweepDur.Describe(ch)
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	src := c.m.sources[:len(c.m.sources):len(c.m.sources)]
	c.m.mu.Unlock()
	for _, s := range src {
		s(ch)
	}
	c.m.sweepDur.Collect(ch)
}

// usable returns an error naming method when m is nil or was not made by
// New, whose Metrics has a registry's collector and the maps parts go in.
func (m *Metrics) usable(method string) error {
	switch {
	case m == nil:
		return errors.New("metrics: " + method + ": nil *Metrics")
	case m.names == nil:
		return errors.New("metrics: " + method + ": Metrics not made by New")
	}
	return nil
}

// add registers a source of figures for a part of kind named name.
func (m *Metrics) add(kind, name string, src func(ch chan<- prometheus.Metric)) error {
	if !validLabel(name) {
		return fmt.Errorf("metrics: %s name of %d bytes: use 1 to 64 letters, digits, '_' and '-'", kind, len(name))
	}
	if spellsAddress(name) {
		return fmt.Errorf("metrics: %s name of %d bytes spells an IP address with '-' or '_' for its '.' or ':', as host names do: choose one that does not", kind, len(name))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := kind + "/" + name
	if m.names[k] {
		return fmt.Errorf("metrics: a %s of that name (%d bytes) was already added", kind, len(name))
	}
	m.names[k] = true
	m.sources = append(m.sources, src)
	return nil
}

// validLabel accepts the names a user gives parts ("memory", "redis-eu"):
// letters, digits, '_' and '-', 1 to 64 bytes. No dot and no colon, so no
// address and no network in its usual text; spellsAddress refuses the
// ones spelled with '-'.
func validLabel(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// anyBit masks every bit of every address package logmask finds in text,
// also one spelled with '-' as host names do ("ip-203-0-113-9").
var anyBit = sync.OnceValue(func() *logmask.Masker {
	p, err := ipmask.New(0, 0)
	if err != nil {
		return nil
	}
	m, err := logmask.NewMasker(p, nil)
	if err != nil {
		return nil
	}
	return m
})

// spellsAddress reports whether logmask reads an address in name, as it
// is or with '.' or ':' for each '-' and '_', from its start or from any
// '-' or '_' on: a label must not carry one in any form, not even a
// developer's choice. logmask reads hyphens as an address's separators
// only where a log's host name does (it must not mask "build 1-2-3-4"),
// nor an address glued to a word before it ("ec2.203.0.113.9"); a part
// name is read more strictly, since refusing one that merely looks like
// an address costs only another name.
func spellsAddress(name string) bool {
	m := anyBit()
	if m == nil || m.MaskString(name) != name {
		return true
	}
	for _, r := range [...]*strings.Replacer{dotted, coloned} {
		s := r.Replace(name)
		for i := 0; i < len(s); i++ {
			if i > 0 && name[i-1] != '-' && name[i-1] != '_' {
				continue
			}
			if t := s[i:]; m.MaskString(t) != t {
				return true
			}
		}
	}
	return false
}

// dotted and coloned write a name's '-' and '_' as an address's
// separators.
var (
	dotted  = strings.NewReplacer("-", ".", "_", ".")
	coloned = strings.NewReplacer("-", ":", "_", ":")
)

func validNamespace(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || c == '_' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

// Tracker adds t's [track.Stats] under the tracker label name. A nil t or
// a name already added is an error.
func (m *Metrics) Tracker(name string, t *track.Tracker) error {
	if err := m.usable("Tracker"); err != nil {
		return err
	}
	if t == nil {
		return errors.New("metrics: Tracker: nil *track.Tracker")
	}
	d := &m.d
	return m.add("tracker", name, func(ch chan<- prometheus.Metric) {
		s := t.Stats()
		for _, o := range [...]struct {
			name string
			n    uint64
		}{
			{track.Counted.String(), s.Clicks + s.Conversions},
			{track.Excluded.String(), s.Excluded},
			{track.OptedOut.String(), s.OptedOut},
			{track.Unresolved.String(), s.Unresolved},
			{track.Unattributed.String(), s.Unattributed},
			{track.Failed.String(), s.BuildFailures},
			{"unserved", s.Unserved},
			{"no-link", s.NoLink},
		} {
			counter(ch, d.requests, o.n, name, o.name)
		}
		counter(ch, d.clicks, s.Unique, name, "unique")
		counter(ch, d.clicks, s.Repeat, name, "repeat")
		counter(ch, d.clicks, s.UniqueUnknown, name, "unknown")
		counter(ch, d.bots, s.Bots, name)
		counter(ch, d.conversions, s.Conversions, name)
		counter(ch, d.masked, s.MaskedAddrs, name)
		counter(ch, d.overQuota, s.OverQuota, name)
		counter(ch, d.storeFailures, s.StoreFailures, name)
		counter(ch, d.storeFull, s.StoreFull, name)
		counter(ch, d.sinkFailures, s.SinkFailures, name)
		counter(ch, d.keyFallbacks, s.KeyFallbacks, name)
	})
}

// Resolver adds r's [clientip.Stats] under the resolver label name. A nil r
// or a name already added is an error.
func (m *Metrics) Resolver(name string, r *clientip.Resolver) error {
	if err := m.usable("Resolver"); err != nil {
		return err
	}
	if r == nil {
		return errors.New("metrics: Resolver: nil *clientip.Resolver")
	}
	d := &m.d
	return m.add("resolver", name, func(ch chan<- prometheus.Metric) {
		s := r.Stats()
		counter(ch, d.resolutions, s.Header+s.Peer, name, "resolved")
		counter(ch, d.resolutions, s.NoAddr, name, "no-addr")
		counter(ch, d.resolutions, s.Untrusted, name, "untrusted")
		counter(ch, d.resolutions, s.Malformed, name, "malformed")
		counter(ch, d.headerResolutions, s.Header, name)
	})
}

// Keyring adds r's [retention.KeyStats] under the keyring label name. A nil
// r or a name already added is an error.
func (m *Metrics) Keyring(name string, r *retention.Keyring) error {
	if err := m.usable("Keyring"); err != nil {
		return err
	}
	if r == nil {
		return errors.New("metrics: Keyring: nil *retention.Keyring")
	}
	d := &m.d
	return m.add("keyring", name, func(ch chan<- prometheus.Metric) {
		s := r.Stats()
		gauge(ch, d.keysHeld, float64(s.Held), name)
		gauge(ch, d.keyAge, s.OldestAge.Seconds(), name)
		counter(ch, d.keysDestroyed, s.Destroyed, name)
		counter(ch, d.keyFailures, s.Failures, name)
		counter(ch, d.localKeys, s.LocalKeys, name)
		local := 0.0
		if s.Local {
			local = 1
		}
		gauge(ch, d.localNow, local, name)
	})
}

// SinkStats are the figures of a buffering sink (package sqlsink's Sink
// has them all in its Stats). It is a small comparable value, safe to copy
// and share; the zero SinkStats is a sink that did nothing.
type SinkStats struct {
	Flushes     uint64 // batches written
	FlushErrors uint64 // failed attempts to write a batch
	Written     uint64 // increments written
	Buffered    uint64 // increments waiting to be written
	Dropped     uint64 // increments refused for a full buffer, or not written at close
}

// Sink adds a sink's figures, as stats returns them at each scrape, under
// the sink label name. stats must be safe to call from any goroutine. A
// nil stats or a name already added is an error.
//
// Package metrics takes a function rather than the sink so that it does
// not import package sqlsink and its database drivers; with a
// *sqlsink.Sink:
//
//	m.Sink("sql", func() metrics.SinkStats {
//		s := sink.Stats()
//		return metrics.SinkStats{Flushes: s.Flushes, FlushErrors: s.FlushErrors, Written: s.Written, Buffered: s.Buffered, Dropped: s.Dropped}
//	})
func (m *Metrics) Sink(name string, stats func() SinkStats) error {
	if err := m.usable("Sink"); err != nil {
		return err
	}
	if stats == nil {
		return errors.New("metrics: Sink: nil stats function")
	}
	d := &m.d
	return m.add("sink", name, func(ch chan<- prometheus.Metric) {
		s := stats()
		counter(ch, d.flushes, s.Flushes, name)
		counter(ch, d.flushErrors, s.FlushErrors, name)
		counter(ch, d.written, s.Written, name)
		gauge(ch, d.buffered, float64(s.Buffered), name)
		counter(ch, d.dropped, s.Dropped, name)
	})
}

// StoreStats are the failure figures of a shared store (package
// redisstore's Store has them all in its Stats). It is a small comparable
// value, safe to copy and share; the zero StoreStats is a store that never
// failed.
type StoreStats struct {
	RecordErrors, LatestErrors, SweepErrors uint64
	// Restarts counts the times the store found its server had lost its
	// data.
	Restarts uint64
	// Full counts clicks refused because the store was full.
	Full uint64
	// IndexErrors counts failed writes of index entries a store writes
	// off the request path; IndexDropped counts the entries such failures
	// (or a full queue) lost. The clicks themselves are still held and
	// counted; only erasure and listing miss them until they expire.
	IndexErrors, IndexDropped uint64
}

// Store adds a store's failure figures, as stats returns them at each
// scrape, under the store label name (the same name as its [Metrics.Sweep]
// wrapper, so that one store's series share a label). stats must be safe to
// call from any goroutine. A nil stats or a name already added is an error.
//
// Like [Metrics.Sink] it takes a function, so that package metrics does
// not import the Redis client; with a *redisstore.Store:
//
//	m.Store("redis", func() metrics.StoreStats {
//		s := store.Stats()
//		return metrics.StoreStats{RecordErrors: s.RecordErrors, LatestErrors: s.LatestErrors, SweepErrors: s.SweepErrors,
//			Restarts: s.Restarts, Full: s.Full, IndexErrors: s.IndexErrors, IndexDropped: s.IndexDropped}
//	})
func (m *Metrics) Store(name string, stats func() StoreStats) error {
	if err := m.usable("Store"); err != nil {
		return err
	}
	if stats == nil {
		return errors.New("metrics: Store: nil stats function")
	}
	d := &m.d
	return m.add("store-failures", name, func(ch chan<- prometheus.Metric) {
		s := stats()
		counter(ch, d.storeErrors, s.RecordErrors, name, "record")
		counter(ch, d.storeErrors, s.LatestErrors, name, "latest")
		counter(ch, d.storeErrors, s.SweepErrors, name, "sweep")
		counter(ch, d.storeErrors, s.IndexErrors, name, "index")
		counter(ch, d.storeRestarts, s.Restarts, name)
		counter(ch, d.storeRefusedFull, s.Full, name)
		counter(ch, d.storeIndexDropped, s.IndexDropped, name)
	})
}

// Sweep returns target wrapped so that every sweep of it, whoever runs it,
// is counted and timed under the store label name: sweeps, errors,
// entries destroyed, duration, and, from the last successful sweep, the
// entries held, the age of the oldest of them and when it ran. Give the
// wrapper to the [retention.Sweeper] (alone or in a [retention.Group]) in
// place of target. A nil target or a name already added is an error.
//
// A sweep of target that panics is counted as a failed sweep, and the
// panic goes on to the caller (a [retention.Sweeper] or [retention.Group]
// turns it into an error, logged and counted there too).
//
// The wrapper is safe for concurrent use if target is; it adds two clock
// readings and a few atomic operations to each sweep.
func (m *Metrics) Sweep(name string, target retention.Sweepable) (retention.Sweepable, error) {
	if err := m.usable("Sweep"); err != nil {
		return nil, err
	}
	if target == nil {
		return nil, errors.New("metrics: Sweep: nil target")
	}
	s := &sweepable{target: target, now: m.now}
	d := &m.d
	err := m.add("store", name, func(ch chan<- prometheus.Metric) {
		counter(ch, d.sweeps, s.sweeps.Load(), name)
		counter(ch, d.sweepErrors, s.errors.Load(), name)
		counter(ch, d.swept, s.deleted.Load(), name)
		s.mu.Lock()
		last := s.last
		s.mu.Unlock()
		gauge(ch, d.held, float64(last.st.Held), name)
		gauge(ch, d.oldest, last.st.Oldest.Seconds(), name)
		ts := 0.0
		if !last.at.IsZero() {
			// Not UnixNano, undefined past 2262 and before 1678.
			ts = float64(last.at.Unix()) + float64(last.at.Nanosecond())/1e9
		}
		gauge(ch, d.lastSweep, ts, name)
	})
	if err != nil {
		return nil, err
	}
	s.dur = m.sweepDur.WithLabelValues(name) // name is valid, and new
	return s, nil
}

type sweepable struct {
	target                  retention.Sweepable
	now                     func() time.Time
	dur                     prometheus.Observer
	sweeps, deleted, errors atomic.Uint64
	started                 atomic.Uint64 // sweeps started, numbering them

	mu   sync.Mutex
	last struct {
		n  uint64 // the number of the sweep below
		at time.Time
		st retention.SweepStats
	}
}

func (s *sweepable) Sweep(ctx context.Context, now time.Time) (retention.SweepStats, error) {
	n := s.started.Add(1)
	start := s.now()
	returned := false
	defer func() {
		if !returned { // the target panicked: a failed sweep, and the panic goes on to the Sweeper
			s.sweeps.Add(1)
			s.errors.Add(1)
		}
	}()
	st, err := s.target.Sweep(ctx, now)
	returned = true
	s.dur.Observe(max(0, s.now().Sub(start).Seconds()))
	s.sweeps.Add(1)
	s.deleted.Add(uint64(max(st.Deleted, 0))) // a failed sweep may have destroyed some
	if err != nil {
		s.errors.Add(1)
		return st, err
	}
	s.mu.Lock()
	// Sweeps racing: keep the one that started last, by the order they
	// started in, not by their times (a clock stepped back would freeze
	// the gauges on a sweep "in the future").
	if n > s.last.n {
		s.last.n, s.last.at, s.last.st = n, now, st
	}
	s.mu.Unlock()
	return st, nil
}
