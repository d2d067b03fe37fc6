package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/clickanon/clickanon/clickstore"
)

// The fast path decides a first click with one command and no script: SET
// marker value NX GET PX ttl (Redis 7.0 or later). Redis sets the marker
// only if it is absent and answers with what was there:
//
//   - nothing: the click is first and held;
//   - a value carrying this call's request token: go-redis resent the
//     command after a lost reply, and the first attempt held the click,
//     so it is first;
//   - a value recorded after the cutoff (now-W on the store's clock): a
//     repeat;
//   - a value recorded at or before the cutoff: a click Redis has not yet
//     deleted (its TTL has W plus the slack) but the store's clock has
//     expired. takeoverScript then replaces it, if it still holds that
//     click; this happens only in the slack after a click's window, or
//     when the store's clock runs ahead of Redis's.
//
// A click that carries a previous-epoch pseudonym must also be a repeat
// when a click of that pseudonym is held, which one command cannot check
// atomically: such clicks run prevScript (prevBatchScript for a run of
// them in a batch), which reads the previous pseudonym's marker and then
// does the same SET NX GET, in one round trip.
//
// The indexes are not written by the decision: a first click's entries are
// queued and written by the store's index writer (index.go), in pipelines,
// off the request path.

// takeoverScript replaces a marker whose click the store's clock has
// expired, if it still holds that click.
//
// KEYS: 1 the marker. ARGV: 1 the expired value's first 27 bytes (recorded
// time and token), 2 the new value, 3 PX ms.
//
// It returns 1 if it set the new value, else the marker's current value
// (or 0 if there is none any more: the caller then tries SET NX again).
var takeoverScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if string.sub(v, 1, 27) ~= ARGV[1] then return v end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// prevDecide is the Lua function that decides a click with a previous
// pseudonym: decide(marker, prev's marker, cutoff (19 digits), value, PX
// ms) returns 1 (first, held) or 0 (repeat). It reads the previous
// pseudonym's marker, then does what the fast path does: SET NX GET, own
// token, live click, or an expired click to replace.
const prevDecide = `
local function decide(m, pv, cut, val, px)
  local p = redis.call('GET', pv)
  if p and string.sub(p, 1, 19) > cut then return 0 end
  local v = redis.call('SET', m, val, 'NX', 'GET', 'PX', px)
  if not v then return 1 end
  if string.sub(v, 20, 27) == string.sub(val, 20, 27) then return 1 end
  if string.sub(v, 1, 19) > cut then return 0 end
  redis.call('SET', m, val, 'PX', px)
  return 1
end
`

// prevBody decides one click that carries a previous-epoch pseudonym.
//
// KEYS: 1 the marker, 2 the previous pseudonym's marker. ARGV: 1 the
// cutoff (19 digits) followed by the marker's value, 2 PX ms.
//
// It returns 1 (first, held) or 0 (repeat).
const prevBody = prevDecide + `
return decide(KEYS[1], KEYS[2], string.sub(ARGV[1], 1, 19), string.sub(ARGV[1], 20), ARGV[2])
`

// prevBatchBody decides clicks that carry a previous-epoch pseudonym, one
// after the other, for RecordBatch: one script run for many clicks costs
// the server less than one run each.
//
// KEYS: per click, the marker and the previous pseudonym's marker. ARGV: 1
// PX ms, 2 the cutoff (19 digits: the clicks of a batch share it), then
// per click the marker's value, so that the script copies no string to
// decide a click.
//
// It returns an array of 1 (first, held) or 0 (repeat).
const prevBatchBody = prevDecide + `
local out, px, cut = {}, ARGV[1], ARGV[2]
for j = 1, #KEYS / 2 do
  out[j] = decide(KEYS[2 * j - 1], KEYS[2 * j], cut, ARGV[j + 2], px)
end
return out
`

var (
	prevScript      = redis.NewScript(prevBody)
	prevBatchScript = redis.NewScript(prevBatchBody)
)

// fastCmd is the command that decides one click on the fast path, with
// its arguments: one allocation, as go-redis takes a *string as an
// argument without boxing a copy.
type fastCmd struct {
	e          encoded
	args       [7]any
	m, pv, arg string // views of e.buf
}

// build fills in f's command for f.e: SET NX GET, or prevScript when the
// click has a previous pseudonym, and returns its arguments.
func (s *Store) build(f *fastCmd) []any {
	e := &f.e
	// e.buf is never written again: its views share its memory.
	b := unsafe.String(unsafe.SliceData(e.buf), len(e.buf))
	f.m = b[:e.ml]
	if e.end != e.vil {
		f.pv, f.arg = b[e.vil:e.end], b[e.end+1:]
		f.args = [...]any{"evalsha", s.prevSHA, 2, &f.m, &f.pv, &f.arg, s.pxArg}
	} else {
		f.arg = b[e.end+1+len(stamp{}):]
		f.args = [...]any{"set", &f.m, &f.arg, "nx", "get", "px", s.pxArg}
	}
	return f.args[:]
}

// fastResult reads the reply of fastArgs's command for e and reports
// whether the click is first, taking over an expired marker if need be.
func (s *Store) fastResult(ctx context.Context, e *encoded, cmd *redis.Cmd) (bool, error) {
	if e.prev() != nil {
		n, err := cmd.Int()
		if err != nil {
			return false, err
		}
		return n == 1, nil
	}
	old, err := cmd.Text()
	if errors.Is(err, redis.Nil) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	for range 4 {
		first, expired, err := s.judge(e, old)
		if !expired || err != nil {
			return first, err
		}
		if old, err = s.takeover(ctx, e, old); err != nil || old == "" {
			return err == nil, err
		}
	}
	return false, errors.New("the marker kept changing while an expired click was replaced")
}

// judge reads the value a SET NX GET found in e's marker: first if it is
// e's own (a resent command), a repeat if it is live, expired if the
// store's clock has expired it.
func (s *Store) judge(e *encoded, old string) (first, expired bool, err error) {
	rec, ok := parseStamp(old)
	if !ok || len(old) < len(stamp{})+tokenLen {
		return false, false, errCorrupt
	}
	if old[len(stamp{}):len(stamp{})+tokenLen] == string(e.token()) {
		return true, false, nil
	}
	cut := e.arg()[1 : 1+len(stamp{})]
	if rec > parseCut(cut) {
		return false, false, nil
	}
	return false, true, nil
}

// parseCut reads the cutoff stamp in an encoded argument.
func parseCut(b []byte) int64 {
	n, _ := parseStamp(string(b))
	return n
}

// takeover replaces the expired value old of e's marker with e's value.
// It returns "" if e's value is now held, or the marker's current value
// for judge to read.
func (s *Store) takeover(ctx context.Context, e *encoded, old string) (string, error) {
	m := string(e.marker())
	res, err := takeoverScript.Run(ctx, s.client, []string{m}, old[:len(stamp{})+tokenLen], e.value(), s.pxArg).Result()
	if err != nil {
		return "", err
	}
	switch r := res.(type) {
	case int64:
		if r == 1 {
			return "", nil
		}
		// Deleted meanwhile (erased, or Redis's TTL ran out): try again.
		got, err := s.client.SetArgs(ctx, m, e.value(), redis.SetArgs{Mode: "NX", Get: true, TTL: s.ttl}).Result()
		if errors.Is(err, redis.Nil) {
			return "", nil
		}
		return got, err
	case string:
		if strings.HasPrefix(r, string(e.value())) {
			return "", nil
		}
		return r, nil
	}
	return "", fmt.Errorf("unexpected takeover reply %T", res)
}

// recordFast decides one click on the fast path: one command, one round
// trip, then queues the first click's index entries.
func (s *Store) recordFast(ctx context.Context, c clickstore.Click, now time.Time) (bool, error) {
	f := new(fastCmd)
	var err error
	if f.e, err = s.encode(ctx, c, now); err != nil {
		return false, err
	}
	args := s.build(f)
	var check []any
	var kf *keyFingerprint
	if s.watch.keys != nil {
		if kf, err = s.fingerprint(ctx, now); err != nil {
			return false, err
		}
		check = []any{"get", kf.key}
	}
	got, cmd, wait, err := s.send(ctx, check, args, prevBody)
	if err != nil {
		return false, err
	}
	first, err := s.fastResult(ctx, &f.e, cmd)
	if err != nil {
		if mayHaveRun(ctx, err) {
			s.idx.add(c.Visitor, c.Link, now.UnixNano())
		}
		return false, s.recordErr(ctx, err)
	}
	if kf != nil {
		if err := s.checkKey(ctx, now, kf, got); err != nil {
			if first {
				// Held under a pseudonym of the lost key: index it, so
				// that an erasure finds it until it expires.
				s.idx.add(c.Visitor, c.Link, now.UnixNano())
			}
			return false, err
		}
	}
	first, err = s.waited(first, err, wait)
	if first {
		s.idx.add(c.Visitor, c.Link, now.UnixNano())
	}
	return first, err
}

// recordBatchFast records clicks on the fast path: one pipeline of one
// SET NX GET per click, except that each run of consecutive clicks with a
// previous pseudonym (at most batchRun) is one prevBatchScript run, all
// decided in order by the server; then the first clicks' index entries
// are queued.
func (s *Store) recordBatchFast(ctx context.Context, clicks []clickstore.Click, now time.Time, out []clickstore.Uniqueness, errs []error) {
	type run struct {
		f fastCmd
		i int // the click's index
	}
	runs := make([]run, 0, len(clicks))
	n := 0
	for _, c := range clicks {
		n += encodedLen(len(s.marker) + len(c.Visitor) + len(c.Link))
	}
	arena := make([]byte, 0, n) // one buffer for every click's keys and value
	for i, c := range clicks {
		e, err := s.encodeIn(ctx, &arena, c, now)
		if err != nil {
			errs[i] = err
			continue
		}
		runs = append(runs, run{f: fastCmd{e: e}, i: i})
	}
	if len(runs) == 0 {
		return
	}
	var kf *keyFingerprint
	if s.watch.keys != nil {
		var err error
		if kf, err = s.fingerprint(ctx, now); err != nil {
			for _, r := range runs {
				errs[r.i] = err
			}
			return
		}
	}
	// The commands: a SET NX GET per click without a previous
	// pseudonym, a script run per group of clicks with one.
	type command struct {
		args     []any
		from, to int // the runs it decides: runs[from:to]
		script   bool
		cmd      *redis.Cmd
	}
	cmds := make([]command, 0, len(runs))
	for j := 0; j < len(runs); {
		args := s.build(&runs[j].f)
		if args[0] == "set" {
			cmds = append(cmds, command{args: args, from: j, to: j + 1})
			j++
			continue
		}
		k := j
		for k < len(runs) && k-j < batchRun && runs[k].f.e.prev() != nil {
			k++
		}
		g := make([]any, 0, 3+3*(k-j)+1)
		g = append(g, "evalsha", s.prevBatchSHA, 2*(k-j))
		for q := j; q < k; q++ {
			f := &runs[q].f
			s.build(f)
			g = append(g, &f.m, &f.pv)
		}
		// Every click of the batch has the cutoff of now.
		cut := &runs[j].f.arg
		g = append(g, s.pxArg, (*cut)[:len(stamp{})])
		for q := j; q < k; q++ {
			f := &runs[q].f
			f.arg = f.arg[len(stamp{}):]
			g = append(g, &f.arg)
		}
		cmds = append(cmds, command{args: g, from: j, to: k, script: true})
		j = k
	}
	var got *redis.Cmd
	exec := func() error {
		pipe := s.client.Pipeline()
		if kf != nil {
			got = redis.NewCmd(ctx, "get", kf.key)
			_ = pipe.Process(ctx, got)
		}
		for q := range cmds {
			cmds[q].cmd = redis.NewCmd(ctx, cmds[q].args...)
			_ = pipe.Process(ctx, cmds[q].cmd)
		}
		_, err := pipe.Exec(ctx)
		return err
	}
	// The script runs' replies, not the pipeline's first error, tell
	// whether the server lost the script: that error is often a SET NX
	// GET's nil reply (a first click) before them.
	lost := func() bool {
		for _, c := range cmds {
			if c.script && redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") {
				return true
			}
		}
		return false
	}
	if err := exec(); err != nil && lost() {
		// The server lost the script (a restart): run its source. The
		// commands carry tokens, so running them again is safe.
		for _, c := range cmds {
			if c.script {
				c.args[0], c.args[1] = "eval", prevBatchBody
			}
		}
		_ = exec()
	}
	var keyErr error
	if kf != nil {
		keyErr = s.checkKey(ctx, now, kf, got)
	}
	for _, c := range cmds {
		var res []any
		var cerr error
		if c.script {
			if res, cerr = c.cmd.Slice(); cerr == nil && len(res) != c.to-c.from {
				cerr = fmt.Errorf("unexpected reply of %d elements", len(res))
			}
		}
		for j := c.from; j < c.to; j++ {
			r, q := &runs[j], j-c.from
			var first bool
			err := cerr
			if !c.script {
				first, err = s.fastResult(ctx, &r.f.e, c.cmd)
			} else if err == nil {
				n, _ := res[q].(int64)
				first = n == 1
			}
			if err != nil {
				if mayHaveRun(ctx, err) {
					cl := &clicks[r.i]
					s.idx.add(cl.Visitor, cl.Link, now.UnixNano())
				}
				err = s.recordErr(ctx, err)
			} else if keyErr != nil {
				err = keyErr // uniqueness unknown; held clicks are still indexed
			}
			errs[r.i], out[r.i] = err, clickstore.UniquenessOf(first, err)
			if first {
				cl := &clicks[r.i]
				s.idx.add(cl.Visitor, cl.Link, now.UnixNano())
			}
		}
	}
}

// mayHaveRun reports whether a command that failed with err may still have
// run on the server: its deadline (ctx's, or a read timeout) ended the wait
// for a reply, not the sending. A first click it held would then have no
// index entries, and erasures would miss it until it expires; the caller
// indexes it instead. An entry whose marker does not hold its click is
// harmless: every reader checks the marker (see "Indexes, off the request
// path" in the package documentation).
func mayHaveRun(ctx context.Context, err error) bool {
	var ne net.Error
	return ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Canceled) || errors.As(err, &ne) && ne.Timeout()
}
