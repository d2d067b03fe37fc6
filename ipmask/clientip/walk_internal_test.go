package clientip

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The messages spell the bounds out as constants, so that building them
// never allocates; they must say what the code does.
func TestBoundsInMessages(t *testing.T) {
	assert.Equal(t, strconv.Itoa(maxElement), maxElementText)
	assert.Equal(t, strconv.Itoa(maxWalkBytes), maxWalkBytesText)
	longest := netip.AddrPortFrom(netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"), 65535)
	assert.LessOrEqual(t, len(longest.String()), maxAddrLen, "the longest address form fits")
	assert.Less(t, maxAddrLen, maxRawEntry)
}
