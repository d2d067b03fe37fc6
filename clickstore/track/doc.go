// Package track counts the clicks on a service's links without keeping
// anyone's IP address: for each click it finds the visitor's address,
// skips excluded and opted-out requests, labels bots, builds a
// [clickstore.Click] (a keyed pseudonym and a masked network), records it
// in a [clickstore.Store] to tell a unique click from a repeat, and adds it
// to a [clickstore.Sink], the aggregates that persist. The full address is
// used inside [Tracker.Track] and nowhere else. (A Builder made with
// clickstore.BuilderOptions.KeepRawAddr puts it in the click the Store
// holds for its window; the Sink never receives it.)
//
// # In an existing service
//
//	keyring, _ := retention.NewKeyring(nil)                           // random keys, destroyed after their window
//	builder, _ := clickstore.NewBuilder(ipmask.Default, keyring, nil) // /24 and /48 networks, keyed pseudonyms
//	store, _ := clickstore.NewMemory(nil)                             // the 30-minute buffer
//	stats, _ := aggregate.New(nil)                                    // what persists: counts
//	tracker, _ := track.New(builder, store, stats, nil)
//
//	mux.Handle("GET /go/{link}", tracker.Handler(redirect))          // counted once redirect answered < 400
//	sweeper, _ := retention.NewSweeper(store, nil)
//	go sweeper.Run(ctx)                                               // physical deletion, once a second
//
// [Tracker.Handler] reads the link from the route's {link} wildcard after
// routing and counts the request only once the wrapped handler has served
// it (a status below 400): a handler that answers 404 for a link it does
// not know keeps made-up links out of the store and the counts. Routers
// that do not set path values use [Tracker.Middleware] with a [LinkFunc];
// a handler that has looked the link up itself can call [Tracker.Track].
//
// # The client's address
//
// The ipmask/clientip masking middleware may be installed in front of the
// tracker or behind it; both orders count the same visitors. In front, it
// hands the tracker the full address it resolved through the request
// context (only packages of this module can read it), and the tracker uses
// that. Otherwise the tracker resolves the address itself, with
// [Options].Resolver: behind a proxy, give it the Resolver the middleware
// has, one that trusts the proxy, and the tracker counts what it would count
// with the middleware. A request whose client the middleware could not
// resolve (a trusted proxy's header that does not parse: Outcome PeerUsed)
// is served with the peer's address but not counted, as the Resolver's
// failure is not: it is [Unresolved], since behind a proxy the peer is the
// proxy, and counting it would make every such visitor one. A request whose address was masked by
// some other middleware before the tracker saw it is not counted: it is
// [Unresolved] and [ErrMaskedAddr] is logged, since counting it would make
// a whole network one visitor. An IPv6 address is taken for a masked one
// at once (its interface part is zero); an IPv4 address ending in .0 only
// once four such come in a row (one visitor in 256 really has one), so
// behind such a middleware the first three IPv4 clicks are counted, each
// network as one visitor, and a real visitor between them starts the run
// again.
//
// # Bots
//
// A bot's click is counted, labelled ([Visit].Bot) and never unique; it is
// not held in the store. The label comes from the request (HEAD, OPTIONS,
// prefetch and prerender) and from the user agent: link-preview fetchers
// of chat and social apps, HTTP client libraries, and the crawler list
// maintained at github.com/monperrus/crawler-user-agents (see
// [Classify]). The tracker
// classifies each distinct user agent once per window and keeps the
// answer, with the agent's digest for the pseudonym, in a cache bounded in
// size and in time: no entry outlives the window ([Options].Window), and
// none holds the agent's text, which may carry the sender's address.
//
// # Referrers
//
// A click keeps the host of its Referer header, lower-cased, and nothing
// else of it; never an address: a host that is one (198.51.100.7,
// [2001:db8::7], 3325256711) or spells one in its labels, as wildcard DNS
// services and reverse-DNS names do (198.51.100.7.nip.io,
// ec2-198-51-100-7.compute-1.amazonaws.com, 2001-db8--7.sslip.io,
// nip.io's eight hex digits, app-c6336407.nip.io, the same after a few
// letters or 0x, p5dc5a9f2.dip0.t-ipconnect.de, twelve zero-padded
// digits, 198051100077.ip.example, or an IPv6 address's 32 hex digits),
// is dropped, and the click counted with no referrer. Eight hex digits
// are an address whatever they spell (20251128.example.com and
// deadbeef.nip.io are dropped too), as package logmask reads them: no
// host kept is one a log would have masked.
//
// # Links and labels
//
// A link persists as the key of the aggregates, and a visitor may name it
// (a route that serves any link, an outbound URL in "/out/{link...}"): an
// address in it is masked by the Builder's policy, or by ipmask.Default
// where that policy keeps more bits (every store and sink refuses a link
// holding an address finer than ipmask.Default's, see
// [clickstore.Click.Validate]), in every form the ipmask/logmask masker
// finds (198.51.100.77:8080/admin is counted as 198.51.100.0:8080/admin),
// also percent-encoded (198%2E51%2E100%2E77, encoded twice). Other
// notations are not read: a bare integer (3325256781), eight hex digits
// alone, four numbers joined by '-' with no word before them, full-width
// digits, the forms a link's own IDs, hashes and dates take too. This
// holds whichever side of the tracker the clientip middleware is on. A
// bot label or device class from the classifier or the Enrich hook that
// holds an address is not kept (see [Options].Classify).
//
// # Floods
//
// One network may have at most [Options].NetworkQuota clicks held in the
// store at once (4096 by default). Visitors whose IPv6 address carries
// their IPv4 address (behind a NAT64 or SIIT translator, say) all mask to
// one IPv6 network; the quota counts them by their IPv4 network instead. Past it, its clicks are still counted,
// with unknown uniqueness and [Visit].OverQuota, but not recorded, so a
// flood from one network leaves the store's room to everyone else and
// their uniqueness exact. The quota is per network: a flood spread over
// many networks (the /24s of a /16, the /48s of an IPv6 /32) stays under
// each network's quota and can still fill the store. A store that is full
// refuses new clicks rather than evicting (clickstore.ErrFull): they are
// counted with unknown uniqueness, and [Stats] says how many, while the
// visitors it holds keep exact answers. A network's quota frees within an
// eighth of a window after the store forgot its clicks (see
// [Options].NetworkQuota).
//
// # Outages
//
// An outage never turns a visitor away and never loses a click of an
// existing link. If the Store fails, the click is counted in the Sink with
// unknown uniqueness ([Stats].StoreFailures). If the keyring's key store
// fails (Redis is down), the keyring hands out a local key (see
// retention.ErrLocalKey): the click is counted in the Sink with unknown
// uniqueness and is not recorded in the Store, since a pseudonym under a
// key no other instance shares would make its first/repeat answer
// meaningless; a conversion cannot be attributed ([Stats].KeyFallbacks).
// Within a second of the key store's recovery the keyring is back on the
// shared key and uniqueness is exact again. Only a click that cannot be
// built at all (no key of any kind) is dropped, as Outcome [Failed].
//
// Store, Sink and Builder failures are logged through [Options].Logger once per
// burst each: the first failure at once, then at most one line a minute
// with the count of those not logged, and one line on recovery. Error
// text is logged with every address masked (ipmask/logmask, with the
// Builder's policy), and every failure is counted in [Stats].
package track
