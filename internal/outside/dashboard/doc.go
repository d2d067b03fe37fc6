// Package dashboard holds black-box tests of the linktracker's dashboard
// page, GET /links/{id} (issue 8's dashboard, issue 13 section 6), in a
// real browser: the binary, built once, is driven over HTTP on 127.0.0.1
// by generated traffic (many links; visitors at every address form
// through a trusted proxy, IPv4, IPv6, 6to4, Teredo, NAT64, ISATAP and
// mapped; bots, HEAD, prefetches, repeats, conversions, and a link of
// over 800 clicks), and every dashboard is then loaded in one
// headless Chromium (chromedp) and read as a person and an outside tester
// read it: the totals, the charts' lines, bands and bucket titles, and
// the breakdown tables against the stats API; no address, pseudonym or
// user agent anywhere in the DOM, the source, the console or the
// responses; no console error or failed request; the same page with
// JavaScript off; a link with no clicks, unknown and odd link IDs, a URL
// that holds HTML and script (with window.alert hooked); and the
// plain-words line on what is stored and for how long, before and after
// a restart.
//
// The tests fail, not skip, when no Chromium is installed. All but one
// (which sets TZ for its tracker) run in parallel, in tabs of the one
// browser.
//
// The package has no code of its own: everything is in its tests, in
// package dashboard_test, which import only the module's public
// packages, the standard library, testify, chromedp (a module
// dependency) and the internal harness internal/ltproc.
package dashboard
