package retention

// foreignError is an error from something retention calls (a key store, a
// random source, a Sweepable) with retention's context added. Its text
// goes through scrub, since an error gets logged and the callee's text may
// hold an address (a server's, or a visitor's from a careless Sweepable);
// the error itself stays reachable with errors.Is and errors.As.
type foreignError struct {
	op  string
	err error
}

// foreign wraps err, from a callee, as a retention error about op.
func foreign(op string, err error) error { return &foreignError{op: op, err: err} }

func (e *foreignError) Error() string { return "retention: " + e.op + ": " + scrub(e.err.Error()) }

func (e *foreignError) Unwrap() error { return e.err }

// scrub replaces every run of text that could be an IP address with
// "[address]": a run of hex digits, dots, colons and percent-encoded
// separators holding three dots or two colons, which covers IPv4 and IPv6
// in every text form, with a port or zone, and percent-encoded. It also
// catches clock times and MAC addresses, a small price.
func scrub(s string) string {
	var out []byte // nil until something is replaced
	start := 0     // of the current run
	seps := func(run string) (dots, colons int) {
		for i := 0; i < len(run); i++ {
			switch {
			case run[i] == '.':
				dots++
			case run[i] == ':':
				colons++
			case run[i] == '%' && i+2 < len(run) && run[i+1] == '3' && (run[i+2] == 'A' || run[i+2] == 'a'):
				colons++
			case run[i] == '%' && i+2 < len(run) && run[i+1] == '2' && (run[i+2] == 'E' || run[i+2] == 'e'):
				dots++
			}
		}
		return dots, colons
	}
	flush := func(end int) {
		run := s[start:end]
		if d, c := seps(run); d >= 3 || c >= 2 {
			if out == nil {
				out = append(make([]byte, 0, len(s)), s[:start]...)
			}
			out = append(out, "[address]"...)
		} else if out != nil {
			out = append(out, run...)
		}
	}
	for i := 0; i <= len(s); i++ {
		if i < len(s) && inRun(s[i]) {
			continue
		}
		flush(i)
		if i < len(s) && out != nil {
			out = append(out, s[i])
		}
		start = i + 1
	}
	if out == nil {
		return s
	}
	return string(out)
}

func inRun(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '.' || c == ':' || c == '%'
}
