package main

import (
	"bytes"
	"io"
	"sync"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// parallelFrom is the least input, in complete lines, that lines spreads
// over its workers; less is masked on one, as starting goroutines would
// cost more than it saves (a piped logger's few lines at a time).
var parallelFrom = 64 << 10

// lines masks text on up to len(workers) cores at once and writes it to
// out in its order, with the same result as one logmask.Writer given the
// same bytes (which TestParallelSameAsOneWriter checks): each worker has
// a Writer of its own, and is handed only whole lines, so that no Writer
// holds anything between two calls, and an address is never cut in two.
// A line is never split between workers: the start of a line whose
// newline has not come is kept (carry) until it does; one that grows to
// MaxLine bytes first goes to seq, a Writer that writes to out directly
// and masks it in pieces as one Writer would, until its newline. seq also
// takes the last line, when it has no newline. lines is not safe for
// concurrent use.
type lines struct {
	out     io.Writer
	seq     *logmask.Writer
	workers []*worker
	parts   [][]byte
	carry   []byte // the start of a line, shorter than maxLine
	inLine  bool   // seq holds the start of a line: bytes up to the next newline are its
	maxLine int
}

// worker masks whole lines into buf.
type worker struct {
	w      *logmask.Writer
	buf    bytes.Buffer
	direct bool // w writes to out, not buf
}

func newLines(out io.Writer, p ipmask.Policy, opts *logmask.Options, n int) (*lines, error) {
	seq, err := logmask.NewWriter(out, p, opts)
	if err != nil {
		return nil, err
	}
	l := &lines{out: out, seq: seq, maxLine: opts.MaxLine}
	if l.maxLine == 0 {
		l.maxLine = logmask.DefaultMaxLine
	}
	for i := range n {
		k := &worker{}
		// The first run of lines goes out first: its worker writes to
		// out directly, the others to a buffer that waits its turn.
		var dst io.Writer = &k.buf
		if k.direct = i == 0; k.direct {
			dst = out
		}
		if k.w, err = logmask.NewWriter(dst, p, opts); err != nil {
			return nil, err
		}
		l.workers = append(l.workers, k)
	}
	return l, nil
}

// Write masks the lines b completes and writes them to out; it keeps the
// start of an unfinished last line. An error is out's.
func (l *lines) Write(b []byte) error {
	if l.inLine {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			_, err := l.seq.Write(b)
			return err
		}
		if _, err := l.seq.Write(b[:i+1]); err != nil {
			return err
		}
		l.inLine = false
		b = b[i+1:]
	}
	if last := bytes.LastIndexByte(b, '\n'); last >= 0 {
		// The carried line, completed, and the whole lines after it.
		first := bytes.IndexByte(b, '\n')
		var pre []byte
		if len(l.carry) > 0 {
			l.carry = append(l.carry, b[:first+1]...)
			pre, b = l.carry, b[first+1:]
			last -= first + 1
		}
		if err := l.mask(pre, b[:last+1]); err != nil {
			return err
		}
		l.carry = l.carry[:0]
		b = b[last+1:]
	}
	l.carry = append(l.carry, b...)
	if len(l.carry) >= l.maxLine {
		// Too long to hold: seq masks it in pieces from its start, as
		// one Writer would, and takes the rest of the line.
		l.inLine = true
		_, err := l.seq.Write(l.carry)
		l.carry = l.carry[:0]
		return err
	}
	return nil
}

// Close masks and writes a last line that has no newline.
func (l *lines) Close() error {
	if len(l.carry) > 0 {
		if _, err := l.seq.Write(l.carry); err != nil {
			return err
		}
		l.carry = l.carry[:0]
	}
	return l.seq.Close()
}

// mask masks pre then whole, whole lines both (either may be empty), on
// the workers, each taking a run of whole lines, and writes the results
// in order.
func (l *lines) mask(pre, whole []byte) error {
	n := len(l.workers)
	if len(whole) < parallelFrom {
		n = 1
	}
	l.parts = splitLines(l.parts[:0], whole, n)
	var wg sync.WaitGroup
	for i := 1; i < len(l.parts); i++ {
		wg.Go(func() { _ = l.workers[i].mask(l.parts[i]) })
	}
	err := l.workers[0].mask(pre)
	if err == nil {
		err = l.workers[0].mask(l.parts[0])
	}
	wg.Wait()
	for i := 1; i < len(l.parts) && err == nil; i++ {
		k := l.workers[i]
		_, err = l.out.Write(k.buf.Bytes())
		k.buf.Reset()
	}
	return err
}

// mask masks whole lines into the worker's destination: out for the first
// worker (an error is out's), k.buf for the others (a bytes.Buffer never
// fails). The Writer holds nothing afterwards, as the last line has its
// newline.
func (k *worker) mask(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if !k.direct {
		// At once, rather than by doubling: fresh memory is slow to
		// touch, and the output is about as long as the input.
		k.buf.Grow(len(b) + len(b)/8)
	}
	_, err := k.w.Write(b)
	return err
}

// splitLines appends to parts up to n runs of whole lines that together
// are b (which ends with a newline), of about equal length.
func splitLines(parts [][]byte, b []byte, n int) [][]byte {
	size := len(b) / n
	for len(parts) < n-1 && len(b) > size {
		i := bytes.IndexByte(b[size:], '\n')
		if i < 0 || size+i+1 == len(b) {
			break
		}
		parts = append(parts, b[:size+i+1])
		b = b[size+i+1:]
	}
	return append(parts, b)
}
