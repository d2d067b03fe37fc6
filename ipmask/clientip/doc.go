// Package clientip finds the address of the client behind an HTTP request,
// safely behind proxies, and provides net/http middleware that masks it
// with an [ipmask.Policy] before any handler sees it.
//
// # Resolving
//
// A [Resolver], built by [New] from one or more [Strategy] values, takes a
// request's headers and RemoteAddr and answers a [netip.Addr] or an error
// wrapping [ErrNoAddr], [ErrUntrusted] or [ErrMalformed]. It needs no
// request, so rate limiters and tests can call [Resolver.Resolve] directly.
// The zero Resolver reads RemoteAddr alone, which is the only safe choice
// for a service not behind a proxy.
//
// Behind proxies, the strategies are [RightmostUntrusted] and
// [TrustedHops] for X-Forwarded-For, [Forwarded] for RFC 7239, and
// [SingleHeader] for a header a proxy sets to one address (X-Real-IP,
// CF-Connecting-IP, ...). Each reads its header only when the connecting
// peer is in its [Trusted] set of proxies, so a client that connects
// directly cannot choose its address with a header. A Trusted set can be
// replaced at run time, for CDN ranges that change.
//
// # The header walk
//
// X-Forwarded-For and Forwarded are walked from the right, over every copy
// of the header (the last first), one entry at a time, without splitting
// the header or allocating; the walk stops at its answer, so entries to
// the left of the answer, which a client can forge, are never parsed. Its
// work is bounded whatever the header's size: it examines at most
// [MaxHops] entries, looks back at most 128 bytes for an entry's start,
// reads at most 4 KiB of a Forwarded header and 512 bytes of one of its
// elements (a longer one, a long host= say, is [ErrMalformed]), and
// refuses an entry longer
// than the longest address form
// ("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535") before parsing
// it. An entry may carry a port
// ("192.0.2.1:80") and an IPv6 address brackets ("[2001:db8::1]:80"); an
// unbracketed IPv6 address has no port, so "2001:db8::1:80" is that
// address. IPv4-mapped addresses are unmapped. Empty entries are skipped
// (RFC 9110 section 5.6.1): they count towards [MaxHops] and in an
// error's position, not as hops of [TrustedHops]. Anything the walk
// reaches that is
// not a plain address fails closed with [ErrMalformed]: text, a %zone, the
// unspecified address (0.0.0.0, ::), leading zeros (192.000.002.001, which
// some parsers read as octal), a bad port, an "unknown" or obfuscated
// RFC 7239 node, a header with fewer entries than the trusted hop count.
// A Resolver never falls back to the leftmost entry.
//
// # Errors
//
// An error says which header, which entry (by position from the right),
// how long it was and what kind of fault it has, and never quotes the
// entry: errors get logged, and the entry may be an address. The same
// holds for [NewTrusted], [New] and [NewMiddleware], and for the String
// and LogValue methods of every type here.
//
// Headers are looked up by their canonical names, as net/http stores
// them, so a header sent as X_Forwarded_For (which some proxies pass
// through and some frameworks conflate) is never read as X-Forwarded-For.
//
// # The middleware
//
// [NewMiddleware] resolves and masks each request's client, puts an
// [Info] (masked address and network, the strategy that answered, the
// outcome) in the request context for [FromContext], and by default hides
// the raw address from everything downstream: it rewrites the request in
// place, so RemoteAddr holds the masked address and every header that
// carries a client address is deleted from the request's header map,
// whichever strategy answered: those named in [ClientAddrHeaders], in any
// case spelling, and any other whose value is an IP address or a list
// that begins or ends with one (a platform's own header, a proxy rule's
// choice), but Host,
// X-Forwarded-Host and X-Original-Host, which name the server. Where the
// client's own address is written inside other text (a Via, a cookie,
// key-value pairs, JSON, the URL's path or query, IPv6 in any spelling or
// percent-encoded), it is replaced by the masked address; other addresses
// inside text are not looked for ([NewMiddleware] says exactly where and
// in which forms). A handler that hijacks the connection (a websocket)
// gets one whose RemoteAddr is masked too. Middleware wrapping it sees the
// rewritten request too. [Info] implements
// [slog.LogValuer] and logs only masked data; [KeyFunc] keys rate
// limiters on the masked network; [Resolver.Stats] counts resolutions by
// outcome for metrics.
//
// net/http logs the connection's raw address itself, in its server's
// ErrorLog ("http: panic serving 192.0.2.1:51234", "http: TLS handshake
// error from ..."), where no middleware can rewrite it: give the
// http.Server an ErrorLog that masks, such as slog.NewLogLogger of a
// handler from package logmask.
//
// # What the middleware does not reach
//
// It rewrites the request it is given and what hangs from it; a few
// things lie outside that, by the way net/http is built:
//
//   - A handler in front of it that copies the request (http.StripPrefix,
//     http.TimeoutHandler, http.MaxBytesHandler, a router that calls
//     WithContext) hands it the
//     copy: a handler wrapping that one (an access logger outside the
//     router) keeps the original, with the raw RemoteAddr. Install the
//     middleware outermost, or log from inside it.
//   - A router that matched the request before the middleware ran keeps
//     the path parameters it read from the raw path in a context value of
//     its own: ServeMux's path values are masked, but not chi's URLParam
//     under With or a subrouter's Use, nor gorilla/mux's Vars, whose
//     middleware runs after matching. Install the middleware in front of
//     the router.
//   - A handler behind it that serves other requests itself, on a
//     connection it took over, serves them outside the middleware: x/net's
//     h2c.NewHandler does so with every HTTP/2 request of an upgraded
//     connection, whose RemoteAddr is then the connection's (masked, as
//     above) but whose headers are as they came and whose context is the
//     upgrade request's. Install h2c.NewHandler in front of the
//     middleware, or let http.Server.Protocols serve unencrypted HTTP/2.
//   - The request context holds what net/http put there:
//     http.LocalAddrContextKey is the server's own address (on a test
//     machine, the same loopback address as the client's), and what a
//     ConnContext hook adds (the net.Conn itself, say) is the service's
//     own choice. Printing the context shows none of it.
//   - A server other than net/http's (quic-go's HTTP/3, say) may hand a
//     handler its connection through interfaces of its own, which the
//     middleware does not know: it masks what http.Hijacker and
//     http.ResponseController hand out, nothing else.
//   - The request body, and the forms a handler parses from it after the
//     middleware ran; r.TLS, whose client certificate may name addresses.
package clientip
