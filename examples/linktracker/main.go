// Command linktracker is a privacy-first link tracker: short links that
// redirect, count clicks and unique clicks, and attribute conversions, while
// keeping only masked networks and aggregates. A visitor's address is used
// for the moment a request lasts; what is remembered per visitor is a keyed
// pseudonym held for 30 minutes; what persists is counts.
//
//	go build -o linktracker ./examples/linktracker
//	./linktracker                     # links and statistics in ./linktracker.db, on 127.0.0.1:8080
//	./linktracker -demo               # and create a demo link
//	./linktracker -redis 127.0.0.1:6379 -db postgres://user@db/linktracker
//
// Then:
//
//	curl -s -XPOST localhost:8080/api/links -d '{"url":"https://example.com/"}'
//	curl -si -A 'Mozilla/5.0 (X11; Linux x86_64)' localhost:8080/l/ID   # curl's own user agent is counted as a bot
//	curl -s localhost:8080/api/links/ID/stats
//
// and open http://127.0.0.1:8080/links/ID for the dashboard.
//
// Links and statistics are kept in the database (-db): the counts survive
// a restart. They are written every -flush-interval (2s) and on SIGTERM,
// so a crash (SIGKILL) loses at most the clicks of one interval. Redirects are answered from a copy of the links in memory,
// refreshed every 5 seconds, so a database or Redis outage does not stop
// the redirects of existing links; a link made by another instance is
// looked up in the database on its first click, at most 600 such lookups
// a minute, so that made-up links cannot load the database. Clicks and the keys of the pseudonyms
// are transient: in memory, or in Redis (-redis) with persistence off when
// several instances share them. With -geoip a MaxMind-format file gives
// each click's country (for the breakdown) and a link's per-country or
// per-continent target. Behind proxies (-trusted-proxies) the client is
// read from X-Forwarded-For, or from the header -client-ip-header names
// (Forwarded, CF-Connecting-IP, X-Real-IP...). Clicks from the networks
// -exclude lists (offices, monitors) are never counted. Link creation can require a token (-api-token)
// and is limited per network (-create-per-minute). Every wait on a store
// is bounded (-store-timeout). Logs, and the error it exits with when it
// cannot start (status 2, naming the flag to change: -addr when another
// program, a tracker started before, has the port, and then no database
// is created), mask every address; -h lists the flags and exits 0.
// /metrics serves
// Prometheus metrics (among them clickanon_linktracker_orphan_clicks_total,
// the clicks and pixels on links that do not exist, answered 404) and
// /healthz whether the stores and the database are reachable.
//
// POST /api/links takes one JSON object, {"url": "https://..."} and
// optionally "geo", and nothing after it; the URL must be an absolute http
// or https URL with a host, no user name or password, a port (if any) from
// 1 to 65535, at most 2048 bytes. Anything else is answered 400 (413 for a
// body over 8 KiB) with {"error": "..."}, which says what is wrong without
// repeating the input.
//
// The conversion pixel /c/ID.gif (or /c/any.gif) counts a conversion on the
// visitor's click on that link (or, with any, on the link they last
// clicked for the first time) within 30 minutes: what is held of a visitor
// is their first click on each link, so one who clicks A, then B, then A
// again converts on B. With several instances on one Redis, /c/any.gif
// finds a first click made on another instance about a millisecond after
// that click was answered (the index it reads is written off the request
// path); /c/ID.gif finds it at once. A HEAD
// or a prefetch of it (Sec-Purpose, Purpose or X-Moz: a browser
// prerendering the page the pixel is on) is answered but not counted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0) // asked for the usage, which run printed: as go's own flag handling
		}
		fmt.Fprintln(os.Stderr, "linktracker:", maskError(err))
		os.Exit(2)
	}
}

// maskError is err's text with every address masked, as the log has it: a
// driver's or the flag package's error quotes the addresses and values it
// was given (dial tcp 127.0.0.1:6379, invalid value "203.0.113.9").
func maskError(err error) string {
	m, merr := logmask.NewMasker(ipmask.Default, nil)
	if merr != nil {
		return "an error whose text could not be masked"
	}
	return m.MaskString(err.Error())
}

// run parses args, serves until ctx is done, then shuts down gracefully.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("linktracker", flag.ContinueOnError)
	// The flag package writes a bad value into its error line: run
	// returns the error instead, for main to print masked.
	fs.SetOutput(io.Discard)
	var cfg config
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "listen `address`")
	fs.StringVar(&cfg.db, "db", "sqlite:linktracker.db", "durable `database` for links (and statistics): sqlite:PATH, or a postgres:// URL for several instances")
	fs.StringVar(&cfg.redis, "redis", "", "Redis `server` for the transient clicks and epoch keys shared by several instances: host:port, host:port,host:port (cluster) or redis://... (default: in memory)")
	fs.StringVar(&cfg.trustedProxies, "trusted-proxies", "", "comma-separated `CIDRs` of proxies whose X-Forwarded-For is believed (default: none, the peer address is the client)")
	fs.StringVar(&cfg.exclude, "exclude", "", "comma-separated `CIDRs` (or addresses) whose clicks and conversions are never counted: your offices, uptime monitors (default: none)")
	fs.StringVar(&cfg.clientIPHeader, "client-ip-header", "", "the `header` the trusted proxies name the client in: X-Forwarded-For, Forwarded (RFC 7239), or one that holds one address, such as CF-Connecting-IP or X-Real-IP (default: X-Forwarded-For)")
	fs.StringVar(&cfg.geoIP, "geoip", "", "MaxMind-format `file` (GeoLite2 or DB-IP Country, IPinfo Lite...) for the country breakdown and per-country redirects; reloaded when it changes (default: none)")
	fs.BoolVar(&cfg.demo, "demo", false, "create a demo link at start and print its tracking URL")
	fs.BoolVar(&cfg.allowPersistence, "redis-allow-persistence", false, "accept a Redis server that writes snapshots or an append-only file (they keep expired data), or that refuses CONFIG GET (managed servers)")
	fs.BoolVar(&cfg.allowEviction, "redis-allow-eviction", false, "accept a Redis server whose maxmemory-policy may evict clicks (an evicted click makes a repeat visitor count as unique again)")
	fs.StringVar(&cfg.apiToken, "api-token", "", "if set, POST /api/links needs the header \"Authorization: Bearer `token`\" (default: $LINKTRACKER_API_TOKEN, which keeps it out of ps)")
	fs.IntVar(&cfg.createPerMinute, "create-per-minute", 10, "links one network (/24, /48; an IPv6 address carrying an IPv4 one, as 6to4, counts in its /24) may create a minute; 0 means no limit")
	fs.DurationVar(&cfg.storeTimeout, "store-timeout", defaultStoreTimeout, "longest a request waits on the click store or the database; past it a click is counted with its uniqueness unknown")
	fs.DurationVar(&cfg.flushInterval, "flush-interval", defaultFlushInterval, "how often the counts are written to the database (and on shutdown); a crash (kill -9) loses the clicks since the last write, at most this long's worth")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: linktracker [flags]\n\nA privacy-first link tracker: it keeps masked networks and aggregates, never an IP address.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fs.Usage()
			return err
		}
		return fmt.Errorf("%w (linktracker -help lists the flags)", err)
	}
	fs.SetOutput(stderr)
	if cfg.apiToken == "" {
		cfg.apiToken = os.Getenv("LINKTRACKER_API_TOKEN") // read here, so -help never prints it
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%d unexpected arguments after the flags (flags start with -)", fs.NArg())
	}

	logger, err := newLogger(stderr)
	if err != nil {
		return err
	}
	// Listen first: a tracker whose port is taken (the quick start run
	// twice) stops before it creates a database in the directory.
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("-addr: %w (another program, perhaps a linktracker still running, has it: stop that one, or choose another -addr)", err)
	}
	defer ln.Close() // if newApp fails; the server closes it otherwise
	routeRedisLogs(logger)
	app, err := newApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer app.Close()

	base := "http://" + ln.Addr().String()
	app.base = base
	fmt.Fprintf(stdout, "linktracker listening on %s (links and statistics in %s)\n", base, app.storeName)
	if cfg.demo {
		l, err := app.links.Create(ctx, "https://example.com/", geoTargets{})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "demo link: %s/l/%s\ndashboard: %s/links/%s\n", base, l.ID, base, l.ID)
	}

	srv := &http.Server{
		Handler: app.Handler(),
		// A public tracker faces slow and idle clients: none may hold a
		// connection for long. Requests are small; responses too.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	swept := make(chan struct{})
	go func() { app.sweep(sweepCtx); close(swept) }()
	defer func() { stopSweep(); <-swept }() // before app.Close, deferred above

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fmt.Fprintln(stdout, "linktracker shutting down")
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newLogger writes text lines to w with every address masked by content,
// whatever a part logs (messages, errors, attributes): the tracker, the
// stores, the sink, the sweepers and the access log all log through it.
func newLogger(w io.Writer) (*slog.Logger, error) {
	h, err := logmask.NewHandler(slog.NewTextHandler(w, nil), ipmask.Default, nil)
	if err != nil {
		return nil, err
	}
	return slog.New(h), nil
}
