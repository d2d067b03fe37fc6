package logmask

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/clickanon/clickanon/ipmask"
)

// flushAt is how much masked output a Writer gathers before it writes it to
// its destination in the middle of a Write call.
const flushAt = 64 << 10

// A Writer masks the addresses in everything written to it and writes the
// result to an underlying writer, a line at a time: a line split across
// Write calls is held back until its newline (or Close) arrives, so an
// address is never cut in two. Each Write passes on every complete line it
// brought before returning, which makes a Writer usable as a piped logger.
//
// A line longer than MaxLine (see [Options]) is not held whole: when
// MaxLine bytes of it are waiting, the Writer masks and writes them up to
// the last byte that cannot touch an address (a space, a quote, a bracket,
// a comma...; not a '/' before a digit, which marks a version, as in
// nginx/1.25.3.1.2) and is not part of an escape whose digits an address may
// follow ("%20", "\u0027", "#011"), of a Dovecot session ID or an audit
// record's saddr and the text before it, or of an Erlang tuple
// ({203, 0, 113, 9}), keeping the rest for the next piece,
// so the result is the same as if the line had been masked whole. Only a
// stretch of MaxLine bytes holding no such byte is cut elsewhere: after
// its last non-address byte (a letter), else after its last byte that is
// neither digit nor dot, else after its last "..", else at MaxLine, none
// of which can split a dotted quad (the first two never split such an
// escape either). The second and the last can split IPv6 address text
// (a ':' or a hex letter ends it, or MaxLine falls inside it): there the
// ':', '.' and '%' on either side of the cut, up to the nearest byte that
// cannot touch an address, become '_', and its digits and hex letters '0',
// so that nothing reads as an address in that text or across the cut, and
// no one reading it finds the address's digits. Any of them can split a host
// name that spells an address (ec2-203-0-113-9.compute-1.amazonaws.com,
// 9.113.0.203.in-addr.arpa): where the text around the cut could be one
// (a dot, a dash or a letter before it, a dot or a dash after it), the
// ':', '.' and '%' within 80 bytes of the cut become '_' (not '-', which
// would make digits between them read as a host name's address) and
// their digits and hex letters '0' (ec2-000-0-000-0_0omput0-0...).
// At worst the pieces are masked more than the whole line
// would have been, never less. In field mode only the first piece of a long line
// is read as columns; the rest is masked as free text. A Writer holds at
// most MaxLine bytes of input and about 64 KiB plus twice MaxLine of
// output, whatever it is given.
//
// A Writer must be closed to mask and write a last line that has no
// newline; Close does not close the underlying writer. A Writer is not safe
// for concurrent use. The zero Writer is not usable: build one with
// [NewWriter]. A Writer prints and logs as [Writer.String] alone: fmt would
// otherwise print the start of a line it holds, which is not masked yet.
type Writer struct {
	dst     io.Writer
	m       *Masker
	pend    []byte // start of a line whose newline has not arrived, < maxLine bytes
	cont    bool   // pend continues a long line already partly written
	scrub   bool   // the last piece was cut inside address text: see piece
	near    bool   // the last piece was cut inside host name text: see piece
	cut     bool   // the last piece was cut inside a stretch, no host name text before it: see piece
	out     []byte
	written int64
	err     error
	closed  bool
}

// String returns "logmask.Writer(" and the policy's String ")", or
// "logmask.Writer(nil)" for a nil or zero Writer.
func (w *Writer) String() string {
	if w == nil || w.m == nil {
		return "logmask.Writer(nil)"
	}
	return "logmask.Writer(" + w.m.Policy().String() + ")"
}

// Format implements [fmt.Formatter]: every verb prints [Writer.String], so
// that printing a Writer never shows the start of a line it holds.
func (w *Writer) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, w.String()) }

// LogValue implements [slog.LogValuer]: a Writer logs as [Writer.String].
func (w *Writer) LogValue() slog.Value { return slog.StringValue(w.String()) }

// errClosed is returned by Write after Close.
var errClosed = errors.New("logmask: Write after Close")

// NewWriter returns a Writer that masks with policy p and options opts
// (nil means the defaults) and writes to dst.
func NewWriter(dst io.Writer, p ipmask.Policy, opts *Options) (*Writer, error) {
	if dst == nil {
		return nil, errors.New("logmask: NewWriter: nil destination io.Writer")
	}
	m, err := NewMasker(p, opts)
	if err != nil {
		return nil, err
	}
	return &Writer{dst: dst, m: m}, nil
}

// Write masks the complete lines in b (and any held-back start of the first
// one) and writes them to the underlying writer; it keeps an unfinished last
// line for the next Write or Close. It returns len(b) and nil unless the
// underlying writer fails, after which every call returns that error.
func (w *Writer) Write(b []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errClosed
	}
	max := w.m.maxLine
	if w.out == nil {
		// Room for a flush's worth of output and the line that crosses it.
		w.out = make([]byte, 0, flushAt+2*max)
	}
	n := len(b)
	for len(b) > 0 {
		if len(w.pend) > 0 {
			room := max - len(w.pend)
			look := b[:min(len(b), room)]
			if i := bytes.IndexByte(look, '\n'); i >= 0 {
				w.pend = append(w.pend, b[:i+1]...)
				w.line(w.pend)
				w.pend = w.pend[:0]
				w.cont = false
				b = b[i+1:]
			} else if len(b) < room {
				w.pend = append(w.pend, b...)
				b = nil
			} else {
				w.pend = append(w.pend, b[:room]...)
				b = b[room:]
				c := w.piece(w.pend)
				w.pend = w.pend[:copy(w.pend, w.pend[c:])]
			}
		} else {
			look := b[:min(len(b), max)]
			if i := bytes.IndexByte(look, '\n'); i >= 0 {
				if !w.cont {
					// Every complete line in the window at once: each
					// is masked as it would be alone, for a fraction of
					// the per-call cost.
					i = bytes.LastIndexByte(look, '\n')
				}
				w.line(b[:i+1])
				w.cont = false
				b = b[i+1:]
			} else if len(b) < max {
				if w.pend == nil {
					w.pend = make([]byte, 0, max)
				}
				w.pend = append(w.pend, b...)
				b = nil
			} else {
				b = b[w.piece(look):]
			}
		}
		if len(w.out) >= flushAt {
			if err := w.flush(); err != nil {
				return n - len(b), err
			}
		}
	}
	if err := w.flush(); err != nil {
		return n, err
	}
	return n, nil
}

// nearCut is how far from a cut inside a stretch piece looks for host
// name text, and how far on either side it scrubs: more than the longest
// host name that spells an address and that a cut could split (an
// ip6.arpa name is 72 bytes; a name with dashes or hex, with the label
// after it, is shorter).
const nearCut = 80

// piece masks the first piece of b, MaxLine bytes of a long line, into
// w.out, up to cutPoint, and returns where it ended. A cut inside IPv6
// address text (at MaxLine where the last byte could touch an address, or
// after a ':' or a hex letter with a ':' or '%' before it in its stretch)
// could split an address that neither piece
// then holds whole: the ':', '.' and '%' of the stretch on either side of
// it (up to a byte that never touches an address, within each piece)
// become '_' (and its digits '0', see scrubByte), which leaves nothing in
// it that reads as an address, so none reads across the cut. Any other cut inside a stretch could split a
// host name that spells an address (ec2-203-0-113-9.compute-1.amazonaws.com
// cut after "ec2-203-0-", 9.113.0.203.in-addr.arpa after "in-ad",
// c633644d.nip.io after "c6336"), whose dots make it one: if the nearCut
// bytes of the stretch before the cut hold a dot, a dash or a letter g-z,
// or (seen by line, which has the next piece) those after it a dot or a
// dash, the ':', '.' and '%' within nearCut bytes of the cut on either
// side are scrubbed so. Otherwise (hex digits before the cut, no dot or dash
// after it) the piece on the left holds no more of an address than leading
// digits that the one on the right masks with its own.
func (w *Writer) piece(b []byte) int {
	c := cutPoint(b)
	from := len(w.out)
	w.line(b[:c])
	w.cont = true
	w.scrub = c == len(b) && class[b[c-1]]&cSafe == 0
	if !w.scrub && class[b[c-1]]&cT != 0 && b[c-1] != '.' {
		for i := c - 1; i >= 0 && class[b[i]]&cSafe == 0 && !w.scrub; i-- {
			w.scrub = b[i] == ':' || b[i] == '%'
		}
	}
	end := from // where the scrub of the left piece's output stops
	if !w.scrub && class[b[c-1]]&cSafe == 0 {
		for i := c - 1; i >= max(0, c-nearCut) && class[b[i]]&cSafe == 0 && !w.near; i-- {
			w.near = b[i] == '.' || b[i] == '-' || class[b[i]]&cWord != 0
		}
		w.cut = !w.near
		end = max(from, len(w.out)-nearCut)
	}
	if w.scrub || w.near {
		for i := len(w.out) - 1; i >= end && class[w.out[i]]&cSafe == 0; i-- {
			scrubByte(w.out, i)
		}
	}
	return c
}

// scrubByte turns b[i] into '_' if it is ':', '.' or '%', and into '0' if
// it is a digit or a hex letter. Not '-': a scrubbed "_9.6.1.2.3" would
// become "_9-6-1-2-3", which reads as a host name ending in the address
// 6.1.2.3 (found by FuzzWriter). The digits go too: text cut inside an
// address is not masked, and "2001_db8_1_2__7" or
// "ec2-203-0-113-9_compute-1", which no rule reads as an address, would
// still show one to anyone who reads the log.
func scrubByte(b []byte, i int) {
	switch c := b[i]; {
	case c == ':' || c == '.' || c == '%':
		b[i] = '_'
	case class[c]&(cDigit|cHex) != 0:
		b[i] = '0'
	}
}

// line masks one line or piece of a line into w.out, scrubbing the start
// of its output if the piece before it was cut inside address text.
func (w *Writer) line(b []byte) {
	from := len(w.out)
	if w.cont && w.m.fields != 0 {
		w.out = w.m.appendFree(w.out, b)
	} else {
		w.out = w.m.AppendMask(w.out, b)
	}
	if w.cut {
		w.cut = false
		for i := 0; i < min(len(b), nearCut) && class[b[i]]&cSafe == 0 && !w.near; i++ {
			w.near = b[i] == '.' || b[i] == '-'
		}
	}
	if w.near {
		w.near = false
		for i := from; i < min(len(w.out), from+nearCut) && class[w.out[i]]&cSafe == 0; i++ {
			scrubByte(w.out, i)
		}
	}
	if w.scrub {
		w.scrub = false
		for i := from; i < len(w.out) && class[w.out[i]]&cSafe == 0; i++ {
			scrubByte(w.out, i)
		}
	}
}

func (w *Writer) flush() error {
	if len(w.out) == 0 {
		return nil
	}
	k, err := w.dst.Write(w.out)
	w.written += int64(k)
	if err == nil && k < len(w.out) {
		err = io.ErrShortWrite
	}
	w.out = w.out[:0]
	if err != nil {
		w.err = err
	}
	return err
}

// Close masks and writes a last line that has no newline. It does not close
// the underlying writer. Calling Close again does nothing; Write after Close
// is an error.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if len(w.pend) > 0 {
		w.line(w.pend)
		w.pend = w.pend[:0]
	}
	return w.flush()
}

// Copy masks everything src holds with policy p and options opts (nil
// means the defaults) and writes it to dst, until src reports io.EOF or an
// error. It returns the number of bytes written to dst and the first error
// met other than io.EOF. Lines are written as they complete, so Copy suits
// a pipe that stays open.
func Copy(dst io.Writer, src io.Reader, p ipmask.Policy, opts *Options) (written int64, err error) {
	if src == nil {
		return 0, errors.New("logmask: Copy: nil source io.Reader")
	}
	w, err := NewWriter(dst, p, opts)
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 256<<10)
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return w.written, werr
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			// Pass on what was read before failing, then report.
			w.Close()
			return w.written, rerr
		}
	}
	err = w.Close()
	return w.written, err
}

// cutPoint returns where to end the piece of an over-long line held in b
// (len(b) > 0): after the last byte that cannot touch an address, else after
// the last byte outside tokens, else after the last byte that is neither
// digit nor dot, else after the last "..", else len(b); and before a
// Dovecot session ID or an audit record's saddr and the text before it,
// or an Erlang tuple, that the cut would split. The two middle
// rules never cut a percent-escape, whose digits could run into an address.
func cutPoint(b []byte) int {
	c := cutAt(b)
	if j := sessionAt(b, c); j > 0 {
		return cutPoint(b[:j])
	}
	if j := auditAt(b, c); j > 0 {
		return cutPoint(b[:j])
	}
	if j := tupleAt(b, c); j > 0 {
		return cutPoint(b[:j])
	}
	return c
}

// tupleAt returns where an Erlang tuple that a cut at c may split starts
// (a '{' with only digits, commas and spaces between it and c); else -1.
func tupleAt(b []byte, c int) int {
	for j := c - 1; j >= 0 && j >= c-64; j-- {
		switch {
		case b[j] == '{':
			return j
		case class[b[j]]&cDigit == 0 && b[j] != ',' && b[j] != ' ':
			return -1
		}
	}
	return -1
}

// auditAt returns where an audit record's "audit(", its timestamp and
// serial, "): saddr=" and the hex after it (which the scanner reads
// together, see auditAddr) start if a cut at c would split them, or if
// they run on past b, where it could; else -1.
func auditAt(b []byte, c int) int {
	const head, key = "audit(", "): saddr="
	for j := max(0, c-120); j < c; j++ {
		if b[j] != 'a' {
			continue
		}
		k, ok := startsCut(b, j, head)
		if !ok {
			continue
		}
		for k < len(b) && class[b[k]]&(cDigit|cDot|cColon) != 0 {
			k++
		}
		if k, ok = startsCut(b, k, key); !ok {
			continue
		}
		for k < len(b) && hexVal[b[k]] != 0xff {
			k++
		}
		if k >= c {
			return j
		}
	}
	return -1
}

// sessionAt returns where a Dovecot session ID with the text before it
// that the scanner reads ("session=<...>", ")<4321><...>") starts if a cut
// at c would split it, or runs on past b, where it could; else -1.
func sessionAt(b []byte, c int) int {
	for j := max(0, c-48); j < c; j++ {
		body := 0 // where the base64 starts
		switch b[j] {
		case 's':
			n := min(len(b)-j, len("session=<"))
			if string(b[j:j+n]) != "session=<"[:n] {
				continue
			}
			body = j + len("session=<")
		case ')':
			k := j + 1
			if k < len(b) && b[k] != '<' {
				continue
			}
			k++
			d := k
			for k < len(b) && class[b[k]]&cDigit != 0 {
				k++
			}
			if k < len(b) && (k == d || b[k] != '>' || k+1 < len(b) && b[k+1] != '<') {
				continue
			}
			body = k + 2
		default:
			continue
		}
		e := body
		for e < len(b) && e-body <= 32 && isBase64(b[e]) {
			e++
		}
		if e >= len(b) || b[e] == '>' && e >= c {
			return j
		}
	}
	return -1
}

// startsCut reports whether b[k:] starts with p, or is the start of p
// (which then runs on past b), and returns where p ends in b.
func startsCut(b []byte, k int, p string) (int, bool) {
	n := min(len(p), len(b)-k)
	return k + n, string(b[k:k+n]) == p[:n]
}

// cutAt is cutPoint without the rule for session IDs.
func cutAt(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if class[b[i]]&cSafe != 0 && !splitsEscape(b, i) {
			return i + 1
		}
	}
	for i := len(b) - 1; i >= 0; i-- {
		if class[b[i]]&cT == 0 && !splitsEscape(b, i) {
			return i + 1
		}
	}
	for i := len(b) - 1; i >= 0; i-- {
		if class[b[i]]&(cDigit|cDot) == 0 && !splitsEscape(b, i) {
			return i + 1
		}
	}
	if i := bytes.LastIndex(b, []byte("..")); i >= 0 {
		return i + 2
	}
	return len(b)
}

// splitsEscape reports whether a cut after b[i] would split one of the
// escapes escapeEnd reads ("%20", "\x22", "\u0027", "#011", "\011"):
// "#011203.0.113.9" cut after "#" would leave a piece starting with digits
// that no longer read as the address. Any introducer counts whose code
// digits are not all in b; one followed in b by bytes that are not its
// code digits ("#0:0:0:0:0:0:0:10") starts no escape. So does a '/'
// before a digit (or at the end of b): it marks the dotted numbers after
// it as a version (nginx/1.25.3.1.2), which a cut after it would leave to
// be read as an address and a port.
func splitsEscape(b []byte, i int) bool {
	if b[i] == '/' && (i+1 == len(b) || class[b[i+1]]&cDigit != 0) {
		return true
	}
	for k := i; k >= 0 && k > i-6; k-- {
		ds, n, octal := k+1, 0, false // its code digits: b[ds:ds+n]
		switch b[k] {
		case '%':
			n = 2
		case '#':
			n, octal = 3, true
		case '\\':
			n, octal = 3, true
			if k+1 < len(b) && (b[k+1] == 'x' || b[k+1] == 'u') {
				ds, n, octal = k+2, 2, false
				if b[k+1] == 'u' {
					n = 4
				}
			}
		case 'x', 'u':
			if k > 0 && b[k-1] == '\\' {
				n = 2
				if b[k] == 'u' {
					n = 4
				}
			}
		}
		if n == 0 || i >= ds+n-1 {
			continue
		}
		if ds+n > len(b) {
			return true // its code digits may follow b
		}
		escape := true
		for _, d := range b[ds : ds+n] {
			escape = escape && (octal && '0' <= d && d <= '7' || !octal && hexVal[d] != 0xff)
		}
		if escape {
			return true
		}
	}
	return false
}
