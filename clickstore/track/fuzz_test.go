package track_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// FuzzTrack sends requests with arbitrary headers, for arbitrary links,
// through a Tracker: it never panics, a counted click is one the store
// accepted (so uniqueness is known), nothing the click carries holds the
// raw address (nor a label another address the masker would change; nor
// the link once percent-decoded), no Visit holds more than a masked
// network, and no log line or Stats holds any address at all.
func FuzzTrack(f *testing.F) {
	f.Add("198.51.100.7:1234", firefox, "https://news.example.com/a", "DE", "GET", "x")
	f.Add("[2002:c000:2ff::1]:80", "Slackbot 1.0", "http://192.0.2.1/", "fr", "HEAD", "spring-sale")
	f.Add("not an address", "", "", "", "GET", "")
	f.Add("192.0.2.1:1", "curl/8", "HTTP://EXAMPLE.com:80", "xx1", "POST", "x")
	f.Add("198.51.100.7:1", firefox, "https://app.198-51-100-7.sslip.io/", "", "GET", "198.51.100.7")
	f.Add("[2001:db8:1::]:1", "Mozilla 203.0.113.9", "http://[2002:cb00:7109::1]:80/", "::ffff:203.0.113.9", "GET", "https://[2001:db8:1::7]:443/x")
	// Text no store takes (invalid UTF-8: the hook's device is the agent
	// here, and a Referer host), which the tracker must drop.
	f.Add("198.51.100.7:1", "\xe7", "http://news\xff.example/", "DE", "GET", "l\xff")
	// Addresses percent-encoded in a link, once and twice.
	f.Add("198.51.100.7:1", firefox, "", "", "GET", "out/198%2E51%2E100%2E7/x")
	f.Add("198.51.100.7:1", firefox, "", "", "GET", "out/https%3A%2F%2F2001%253Adb8%253A1%253A2%253A%253A7%2F")
	b := newTestBuilder(f)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	store, err := clickstore.NewMemory(&clickstore.MemoryOptions{Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	sink := &lastSink{}
	f.Fuzz(func(t *testing.T, remote, ua, referer, country, method, link string) {
		var log bytes.Buffer
		tr, err := track.New(b, store, sink, &track.Options{
			Now:          func() time.Time { return now },
			NetworkQuota: -1,                                       // one address can be fuzzed into more clicks than a quota allows
			Logger:       slog.New(slog.NewTextHandler(&log, nil)), // masked-looking addresses are logged
			Enrich: func(*http.Request, netip.Addr) track.Attributes {
				return track.Attributes{Country: country, Device: ua}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/l/x", nil)
		r.Method = method
		r.RemoteAddr = remote
		r.Header["User-Agent"] = []string{ua}
		r.Header["Referer"] = []string{referer}
		before := sink.n
		v := tr.Track(r, link, clickstore.KindClick)
		// Nothing the tracker logs or reports holds an address.
		ipmasktest.AssertNoRawIP(t, zeroBits, log.String(), "log")
		ipmasktest.AssertNoRawIP(t, zeroBits, fmt.Sprintf("%+v", tr.Stats()), "stats")
		// A Visit's text fields, each on its own line: printed with %+v, a
		// link ":6:0:0" would join "Link:" into an address.
		ipmasktest.AssertNoRawIP(t, ipmask.Default, v.Link+"\n"+v.Bot, "visit") // a link keeps the masked network
		if v.Outcome != track.Counted {
			if sink.n != before {
				t.Fatalf("outcome %v but the sink got a click", v.Outcome)
			}
			return
		}
		c := sink.last
		if v.Uniqueness == clickstore.UniqueUnknown {
			t.Fatalf("the store refused a click the tracker built: %+v", c)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("tracker built an invalid click: %v", err)
		}
		if c.RawAddr.IsValid() {
			t.Fatalf("raw address kept: %v", c.RawAddr)
		}
		if !ipmask.Default.IsMasked(c.Network.Addr()) {
			t.Fatalf("network %v is not masked", c.Network)
		}
		if strings.ContainsAny(c.Referrer, "=+@\"', \t\r\n") {
			t.Fatalf("referrer %q is not a host name", c.Referrer)
		}
		if _, err := netip.ParseAddr(c.Referrer); err == nil {
			t.Fatalf("referrer %q is an address", c.Referrer)
		}
		ipmasktest.AssertNoRawIP(t, zeroBits, c.Referrer, "a host name that spells an address is kept")
		ipmasktest.AssertNoRawIP(t, ipmask.Default, c.Bot+"\n"+c.Device, "a label that holds an address is kept")
		ipmasktest.AssertNoRawIP(t, ipmask.Default, c.Link+"\n"+v.Link, "an address in the link is kept")
		// Nor once the link is percent-decoded, as far as it decodes.
		for d := c.Link; ; {
			u, err := url.PathUnescape(d)
			if err != nil || u == d {
				break
			}
			d = u
			ipmasktest.AssertNoRawIP(t, ipmask.Default, d, "an address percent-encoded in the link is kept")
		}
	})
}

// lastSink keeps the last click it was given and a count.
type lastSink struct {
	n    int
	last clickstore.Click
}

func (s *lastSink) Add(_ context.Context, c clickstore.Click, _ clickstore.Uniqueness) error {
	s.n++
	s.last = c
	return nil
}

// FuzzClassify: classifying never panics, gives the same answer twice, a
// short lower-case label and one of the device classes, and BotLabel of a
// plain GET agrees with it (on the agent's first KiB, as the tracker reads it).
func FuzzClassify(f *testing.F) {
	for _, ua := range []string{firefox, "", "CUBOT P80", "AcoonBot/4.10.5 (+http://www.acoon.de)", "Slackbot 1.0", "axios/1.7.7", "IDbot553", "Mozilla/5.0 (compatible; Googlebot/2.1)"} {
		f.Add(ua)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		a := track.Classify(ua)
		if b := track.Classify(ua); a != b {
			t.Fatalf("Classify(%q) gave %+v, then %+v", ua, a, b)
		}
		if len(a.Bot) > 16 || strings.ToLower(a.Bot) != a.Bot {
			t.Fatalf("Classify(%q).Bot = %q", ua, a.Bot)
		}
		switch a.Device {
		case "", "mobile", "tablet", "desktop":
		default:
			t.Fatalf("Classify(%q).Device = %q", ua, a.Device)
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["User-Agent"] = []string{ua}
		cut := ua // BotLabel reads an agent's first KiB, as the tracker does
		if len(cut) > 1024 {
			cut = cut[:1024]
		}
		if got, want := track.BotLabel(r), track.Classify(cut).Bot; got != want {
			t.Fatalf("BotLabel of a GET with %q = %q, Classify of its first KiB says %q", ua, got, want)
		}
	})
}
