// Command privacytest is a small web service that records visits without
// keeping anyone's IP address, and main_test.go beside it is the test that
// proves it: copy both, and make the test build your own handler.
//
// The service sits behind proxies it trusts (-trusted-proxies): the
// clientip middleware finds the visitor's address in their
// X-Forwarded-For, masks it (ipmask.Default: an IPv4 /24 or IPv6 /48,
// never more of an embedded IPv4 than its /24), and hands the handler
// only the masked address, with the visitor's own address masked wherever
// else the request writes it. The handler logs every request with log/slog
// through a logmask.Handler, which masks every address in a record whatever
// attribute carries it, keeps a record of each visit (its network, the
// path and the user agent, each text masked by a logmask.Masker before it
// is stored, since a user agent may hold any address), and answers the
// visitor's network as JSON.
//
// The test sends a visitor at every address form of ipmasktest.Cases,
// directly and through the proxy, with the address also in the path, the
// query, the User-Agent, the Referer and a cookie, and finds no address in
// the log, the answer or the stored records.
//
// When it cannot start (a flag it does not have, a proxy list that does
// not parse, an address another program listens on) it says which flag
// to change on one line, with every address masked, and exits with
// status 2; -h lists the flags and exits 0.
//
//	go run ./examples/privacytest -trusted-proxies 127.0.0.1/32
//	curl -H 'X-Forwarded-For: 2002:cb00:7109::1' localhost:8080/click/203.0.113.9
//	{"network":"2002:cb00:7100::/40"}
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0) // asked for the usage, which run printed
		}
		// Masked, as the log is: an error may quote an address it was
		// given (a listen address, a proxy's CIDR).
		msg := "an error whose text could not be masked"
		if m, merr := logmask.NewMasker(ipmask.Default, nil); merr == nil {
			msg = m.MaskString(err.Error())
		}
		fmt.Fprintln(os.Stderr, "privacytest:", msg)
		os.Exit(2)
	}
}

// run parses args and serves until the server fails. A bad flag, an
// argument it does not take and an address it cannot listen on are errors
// that name the flag to change.
func run(args []string) error {
	fs := flag.NewFlagSet("privacytest", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // main prints the error, masked
	addr := fs.String("addr", "localhost:8080", "listen `address`")
	proxies := fs.String("trusted-proxies", "", "comma-separated `CIDRs` of the proxies whose X-Forwarded-For is believed (default: none, the peer is the visitor)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: privacytest [flags]\n\nA small web service that records visits without keeping anyone's IP address.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stderr)
			fs.Usage()
			return err
		}
		return fmt.Errorf("%w (privacytest -help lists the flags)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%d unexpected arguments after the flags (flags start with -)", fs.NArg())
	}
	var trusted []string
	if *proxies != "" {
		trusted = strings.Split(*proxies, ",")
	}
	sink := slog.NewJSONHandler(os.Stderr, nil)
	svc, err := newService(sink, ipmask.Default, trusted)
	if err != nil {
		return fmt.Errorf("-trusted-proxies: %w", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("-addr: %w (another program has it: stop it, or choose another -addr)", err)
	}
	srv := &http.Server{
		Handler:           svc,
		ReadHeaderTimeout: 5 * time.Second,
		// net/http logs a connection's raw address itself ("http: panic
		// serving 192.0.2.1:51234"): through the masking handler too.
		ErrorLog: slog.NewLogLogger(svc.logHandler, slog.LevelError),
	}
	return srv.Serve(ln)
}

// visit is what the service stores about one request.
type visit struct {
	Network   string `json:"network"`
	Path      string `json:"path"`
	UserAgent string `json:"user_agent"`
}

// maxVisits bounds the records the service keeps: the latest ones.
const maxVisits = 1000

// service is the handler: the clientip middleware in front of serve.
// Its methods are safe for concurrent use.
type service struct {
	http.Handler
	logHandler slog.Handler // masks every address in a record
	log        *slog.Logger
	clean      func(string) string // masks every address in a text to store

	mu     sync.Mutex
	visits []visit
}

// newService returns the service, logging to sink through a handler that
// masks every address under p, believing X-Forwarded-For only from the
// proxies in trusted (CIDRs; none means the peer is the visitor).
func newService(sink slog.Handler, p ipmask.Policy, trusted []string) (*service, error) {
	h, err := logmask.NewHandler(sink, p, nil)
	if err != nil {
		return nil, err
	}
	m, err := logmask.NewMasker(p, nil)
	if err != nil {
		return nil, err
	}
	resolver, err := clientip.New() // the peer address alone
	if len(trusted) > 0 {
		var proxies *clientip.Trusted
		if proxies, err = clientip.NewTrusted(trusted...); err != nil {
			return nil, err
		}
		resolver, err = clientip.New(clientip.RightmostUntrusted(proxies), clientip.RemoteAddr())
	}
	if err != nil {
		return nil, err
	}
	mw, err := clientip.NewMiddleware(resolver, p, nil)
	if err != nil {
		return nil, err
	}
	s := &service{logHandler: h, log: slog.New(h), clean: m.MaskString}
	s.Handler = mw(http.HandlerFunc(s.serve))
	return s, nil
}

func (s *service) serve(w http.ResponseWriter, r *http.Request) {
	network := "unknown" // never the raw text of an address we could not resolve
	if info, ok := clientip.FromContext(r.Context()); ok && info.Prefix.IsValid() {
		network = info.Prefix.String()
	}
	// Logged as they come: the masking handler masks any address in
	// them, whatever its form.
	s.log.Info("request",
		"method", r.Method,
		"path", r.URL.Path,
		"remote", r.RemoteAddr,
		"user_agent", r.UserAgent(),
		"network", network,
	)
	// Stored masked: the middleware masks the visitor's own address in
	// its usual spellings; the Masker masks any address in any form it
	// knows.
	s.mu.Lock()
	if len(s.visits) == maxVisits {
		s.visits = s.visits[:copy(s.visits, s.visits[1:])]
	}
	s.visits = append(s.visits, visit{Network: network, Path: s.clean(r.URL.Path), UserAgent: s.clean(r.UserAgent())})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"network": network})
}

// dump is every record the service holds, as JSON: what a backup of its
// store would hold.
func (s *service) dump() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, _ := json.Marshal(s.visits) // strings only: it cannot fail
	return b
}
