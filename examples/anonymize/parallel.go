package main

import (
	"bytes"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// readSize is the most a worker reads at a time. Small enough that what a
// worker reads and writes stays in its core's cache, large enough that
// taking turns (a lock to read, a turn to write) costs little beside
// masking it (about 0.2 ms).
const readSize = 128 << 10

// lines reads text and masks it on up to n cores at once, writing it to out
// in its order, with the same result as one logmask.Writer given the same
// bytes (which TestParallelSameAsOneWriter checks). Each of n workers, in
// turn, reads from the input (holding the read lock: reads are in order),
// masks the whole lines it read (while the others read, mask or write), and
// writes them when every job read before its own is written. A line is
// never split between jobs: the start of a line whose newline has not come
// stays with the reader's state until it does; one that grows to MaxLine
// bytes first goes to seq, a Writer that masks it in pieces as one Writer
// would, until its newline, into the output of the job being read. seq
// also takes the last line, when it has no newline. lines is not safe for
// concurrent use: its methods are called one at a time.
type lines struct {
	out     io.Writer
	m       *logmask.Masker
	seq     *logmask.Writer // writes to sink
	sink    sink
	maxLine int
	jobs    []*job // one a worker

	rmu    sync.Mutex // the reader's state, below
	carry  []byte     // the start of a line whose newline has not come, < maxLine
	inLine bool       // seq holds the start of a line: bytes up to the next newline are its
	read   int        // jobs read
	done   bool       // read no more: the input ended or failed, or out failed
	rerr   error      // the input's error

	wmu    sync.Mutex // the writer's state, below
	turn   sync.Cond  // next moved on
	next   int        // the job to write next
	failed atomic.Bool
	werr   error // out's error, once failed: nothing more is written
}

// job is one worker's run of whole lines and its output.
type job struct {
	in    []byte // what it read: whole and then maybe the start of a line
	whole []byte // the whole lines to mask, in in
	out   []byte // seq's output before whole's (a long line's end), then whole's
	post  []byte // seq's output after whole's (a long line's start)
	w     *logmask.Writer
	// size is how much to read next: 4 KiB at first (a piped logger's
	// reads are a few lines), doubled up to readSize by each read that
	// fills it.
	size int
}

// sink appends what a Writer writes to the slice b points to.
type sink struct{ b *[]byte }

func (s *sink) Write(p []byte) (int, error) {
	*s.b = append(*s.b, p...)
	return len(p), nil
}

func newLines(out io.Writer, p ipmask.Policy, opts *logmask.Options, n int) (*lines, error) {
	l := &lines{out: out, maxLine: opts.MaxLine}
	var err error
	if l.seq, err = logmask.NewWriter(&l.sink, p, opts); err != nil {
		return nil, err
	}
	if l.m, err = logmask.NewMasker(p, opts); err != nil {
		return nil, err
	}
	if l.maxLine == 0 {
		l.maxLine = logmask.DefaultMaxLine
	}
	l.turn.L = &l.wmu
	for range n {
		j := &job{size: 4 << 10}
		if j.w, err = logmask.NewWriter(&sink{&j.out}, p, opts); err != nil {
			return nil, err
		}
		l.jobs = append(l.jobs, j)
	}
	return l, nil
}

// readFrom reads r to its end, masks its lines and writes them out, on
// every worker. It returns r's error other than io.EOF as rerr, once what
// was read before it is written; and out's error as werr, after which
// nothing more is written.
func (l *lines) readFrom(r io.Reader) (rerr, werr error) {
	var wg sync.WaitGroup
	for _, j := range l.jobs[1:] {
		wg.Go(func() { l.work(j, r) })
	}
	l.work(l.jobs[0], r)
	wg.Wait()
	rerr, l.rerr, l.done = l.rerr, nil, false
	return rerr, l.loadErr()
}

// work reads, masks and writes jobs until the input ends.
func (l *lines) work(j *job, r io.Reader) {
	for {
		k, ok := l.take(j, r)
		if !ok {
			return
		}
		j.mask(l.m, l.maxLine)
		l.write(j, k)
	}
}

// take reads into j until it holds whole lines or output of seq's, and
// returns its number in the input's order; it returns false once the
// input has ended or failed, or out has.
func (l *lines) take(j *job, r io.Reader) (int, bool) {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	j.in = append(j.in[:0], l.carry...)
	l.carry = l.carry[:0]
	j.whole, j.out, j.post = nil, j.out[:0], j.post[:0]
	for !l.done && !l.failed.Load() {
		j.in = slices.Grow(j.in, j.size)
		n, err := r.Read(j.in[len(j.in) : len(j.in)+j.size])
		if n == j.size {
			j.size = min(2*j.size, readSize)
		}
		if err != nil {
			l.done = true
			if err != io.EOF {
				l.rerr = err
			}
		}
		j.in = j.in[:len(j.in)+n]
		b := j.in
		ended := false // seq took the end of a long line
		if l.inLine {  // b is what was read
			i := bytes.IndexByte(b, '\n')
			l.sink.b = &j.out
			if i < 0 {
				_, _ = l.seq.Write(b) // into j.out: never fails
				return l.number(), true
			}
			_, _ = l.seq.Write(b[:i+1])
			l.inLine, ended = false, true
			b = b[i+1:]
		}
		last := bytes.LastIndexByte(b, '\n')
		j.whole, b = b[:last+1], b[last+1:]
		if len(b) >= l.maxLine {
			// Too long to hold: seq masks it in pieces from its start,
			// as one Writer would, and takes the rest of the line.
			l.sink.b = &j.post
			_, _ = l.seq.Write(b)
			l.inLine = true
			return l.number(), true
		}
		if len(j.whole) > 0 || ended {
			l.carry = append(l.carry, b...)
			return l.number(), true
		}
		// No line ended: b is all of j.in; read on.
	}
	l.carry = append(l.carry, j.in...) // for the next input, or Close
	return 0, false
}

// number numbers the job just read.
func (l *lines) number() int {
	l.read++
	return l.read - 1
}

// mask appends to j.out its whole lines masked as one logmask.Writer
// masks them: the complete lines in each MaxLine bytes at once, and a
// line of MaxLine bytes or more in pieces, by j.w (which holds nothing
// afterwards, as the line has its newline); then j.post.
func (j *job) mask(m *logmask.Masker, maxLine int) {
	j.out = slices.Grow(j.out, len(j.whole)+len(j.whole)/8+len(j.post))
	for b := j.whole; len(b) > 0; {
		i := bytes.LastIndexByte(b[:min(len(b), maxLine)], '\n')
		if i >= 0 {
			j.out = m.AppendMask(j.out, b[:i+1])
		} else {
			i = bytes.IndexByte(b, '\n') // whole ends with one
			_, _ = j.w.Write(b[:i+1])    // into j.out: never fails
		}
		b = b[i+1:]
	}
	j.out = append(j.out, j.post...)
}

// write writes j's output, job k's, to out once every job before it is
// written, unless out has failed.
func (l *lines) write(j *job, k int) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	for l.next != k {
		l.turn.Wait()
	}
	if len(j.out) > 0 && !l.failed.Load() {
		if err := writeAll(l.out, j.out); err != nil {
			l.werr = err
			l.failed.Store(true)
		}
	}
	l.next++
	l.turn.Broadcast()
}

// loadErr returns out's error, or nil.
func (l *lines) loadErr() error {
	if l.failed.Load() {
		return l.werr
	}
	return nil
}

// Close masks and writes a last line that has no newline.
func (l *lines) Close() error {
	if err := l.loadErr(); err != nil {
		return err
	}
	var b []byte
	l.sink.b = &b
	if len(l.carry) > 0 {
		_, _ = l.seq.Write(l.carry)
		l.carry = l.carry[:0]
	}
	_ = l.seq.Close()
	if len(b) == 0 {
		return nil
	}
	return writeAll(l.out, b)
}

// writeAll writes b to w, a short write with no error being
// io.ErrShortWrite.
func writeAll(w io.Writer, b []byte) error {
	n, err := w.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	return err
}
