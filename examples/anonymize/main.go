package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage: anonymize [flags] [file ...]

Reads the files (or standard input; "-" is standard input) and writes them
to standard output with every IP address masked: IPv4 and IPv6 in any text
form, with ports, brackets, zones, in lists, quotes, JSON and URLs. Lines
are written as they complete, so anonymize can be a piped logger.

An IPv6 address that carries an IPv4 address (IPv4-mapped, 6to4, Teredo,
NAT64, ISATAP) never keeps more of it than -ipv4 allows.

Flags:
`

// run is the whole command, with its streams passed in; it returns the exit
// status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// What anonymize says on stderr quotes its arguments (a flag's value, a
	// file's name: rsyslog names files by the sender's address), so it
	// is masked too: by the default policy until the flags give one.
	errOut := &maskedWriter{w: stderr}
	errOut.m, _ = logmask.NewMasker(ipmask.Default, nil)
	stderr = errOut
	fs := flag.NewFlagSet("anonymize", flag.ContinueOnError)
	// The flag package's own lines do not name the program; its
	// errors are written below, one line, and the usage on -h.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	v4 := fs.Int("ipv4", ipmask.Default.IPv4Bits(), "leading `bits` of an IPv4 address to keep (0-32)")
	v6 := fs.Int("ipv6", ipmask.Default.IPv6Bits(), "leading `bits` of an IPv6 address to keep (0-128)")
	fields := fs.String("field", "", "mask only these comma-separated `columns` (from 1); a value there\nthat is not an address is replaced by -placeholder")
	delim := fs.String("delim", " ", "column `separator` for -field: one byte, or \\t for a tab")
	placeholder := fs.String("placeholder", "-", "`text` that replaces a non-address value in a -field column")
	skip := fs.Bool("skip-private", false, "leave private, loopback and link-local addresses as they are\n(judged by the embedded IPv4 for mapped, 6to4, Teredo, NAT64)")
	maxLine := fs.Int("max-line", logmask.DefaultMaxLine, "longest line in `bytes` masked whole; longer lines are masked in pieces")
	jobs := fs.Int("j", runtime.GOMAXPROCS(0), "mask on up to `n` cores at once (a large input's whole lines are\nshared out; the output is the same, in the same order)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fs.Usage()
			return 0
		}
		fmt.Fprintf(stderr, "anonymize: %v (anonymize -h lists the flags)\n", err)
		return 2
	}

	p, err := ipmask.New(*v4, *v6)
	if err != nil {
		return fail(stderr, fmt.Errorf("-ipv4 %d -ipv6 %d: %w", *v4, *v6, err))
	}
	if errOut.m, err = logmask.NewMasker(p, nil); err != nil {
		return fail(stderr, err)
	}
	opts := &logmask.Options{Placeholder: *placeholder, SkipPrivate: *skip, MaxLine: *maxLine}
	if *fields != "" {
		list := strings.Split(*fields, ",")
		for i, f := range list {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				// Say where, not what: the text could be anything.
				return fail(stderr, fmt.Errorf("-field: entry %d of %d is not a column number", i+1, len(list)))
			}
			opts.Fields = append(opts.Fields, n)
		}
	}
	switch d := *delim; {
	case d == `\t`:
		opts.Delim = '\t'
	case len(d) == 1:
		opts.Delim = d[0]
	default:
		return fail(stderr, fmt.Errorf("-delim: %d bytes: must be one byte, or \\t", len(d)))
	}

	if *jobs < 1 {
		return fail(stderr, fmt.Errorf("-j: %d: must be at least 1", *jobs))
	}
	w, err := newLines(stdout, p, opts, *jobs)
	if err != nil {
		return fail(stderr, err)
	}
	names := fs.Args()
	if len(names) == 0 {
		names = []string{"-"}
	}
	status := 0
	for _, name := range names {
		if err := copyFile(w, errOut.m, name, stdin); err != nil {
			if errors.Is(err, errWrite) {
				return fail(stderr, err)
			}
			fmt.Fprintln(stderr, "anonymize:", err)
			status = 1
		}
	}
	if err := w.Close(); err != nil {
		return fail(stderr, err)
	}
	return status
}

// errWrite marks a failure to write the output, which ends the run.
var errWrite = errors.New("writing output")

// copyFile masks the file name ("-": stdin) into w. Its errors name the
// file as m masks it and hold no os.PathError (whose text repeats the path
// as given): a file's name can be an address (rsyslog names files by the
// sender's), and an error describes, it does not echo.
func copyFile(w *lines, m *logmask.Masker, name string, stdin io.Reader) error {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fileErr(m, name, err)
		}
		defer f.Close()
		r = f
	}
	rerr, werr := w.readFrom(r)
	if werr != nil {
		return fmt.Errorf("%w: %w", errWrite, werr)
	}
	if rerr != nil {
		return fileErr(m, name, rerr)
	}
	return nil
}

// fileErr is err for the file name, named as m masks it.
func fileErr(m *logmask.Masker, name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s: %w", m.MaskString(name), err)
}

// maskedWriter writes to w what it is given with its addresses masked by
// m. Each Write is a whole message (fmt and flag write one at a time).
type maskedWriter struct {
	w io.Writer
	m *logmask.Masker
}

func (mw *maskedWriter) Write(b []byte) (int, error) {
	if _, err := mw.w.Write(mw.m.AppendMask(nil, b)); err != nil {
		return 0, err
	}
	return len(b), nil
}

func fail(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "anonymize:", err)
	return 1
}
