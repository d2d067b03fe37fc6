package survive_test

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/clickanon/clickanon/clickstore"
)

// visitor returns the pseudonym of visitor id (never zero).
func visitor(id uint64) clickstore.Pseudonym {
	var p clickstore.Pseudonym
	binary.BigEndian.PutUint64(p[:8], id+1)
	binary.BigEndian.PutUint64(p[8:], (id+1)*0x9e3779b97f4a7c15)
	return p
}

var countries = []string{"", "DE", "FR", "US"}

// click returns visitor id's click on link at t, with dimension values
// drawn from id.
func click(link string, id uint64, t time.Time) clickstore.Click {
	n := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, byte(id % 5), 0}), 24)
	if id%3 == 0 {
		n = netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/48", id%4))
	}
	return clickstore.Click{Link: link, Time: t, Visitor: visitor(id), Network: n, Country: countries[id%4]}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
