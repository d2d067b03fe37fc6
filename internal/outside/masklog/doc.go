// Package masklog holds the black-box tests of issue 3's claims for
// ipmask/logmask, ipmask/ipmasktest and examples/anonymize, written the
// way an outside tester writes them: from README.md, the package
// documentation and the public API alone, over classes of input rather
// than examples. Random addresses in every form the issue names (ports,
// brackets, zones, mapped and embedded IPv4, leading zeros, percent-encoded
// once and twice) are put in lines of every log class it names (nginx and
// Apache, JSON, HAProxy, CloudFront, Fastly, Cloudflare, syslog, journald,
// Go's http server, X-Forwarded-For, URLs, key=value, quotes), glued to
// punctuation, under several policies; random non-address tokens
// (versions, times, dates, MACs, hashes, UUIDs) must come out unchanged.
// The streaming Writer is split at every point and fed lines longer than
// its MaxLine; field mode, the slog Handler (nesting, allocations),
// ipmasktest's assertions (through a recording testing.TB) and the
// anonymize command (built and run as a process, through pipes) are tested
// the same way.
//
// The package has no code of its own: everything is in its tests, in
// package masklog_test, which imports only the module's public packages,
// the standard library and testify.
package masklog
