package hostaddr

// MaxDecodes is how many times text is percent-decoded when an address
// may hide in it encoded (the tracker's links, Click.Validate): an
// address encoded more often than that is not one anybody reads.
const MaxDecodes = 3

// PercentDecode decodes every valid %XX escape of b in place and returns
// the decoded length; a '%' that starts no escape is kept as it is. It is
// what a link's parts are read with when an address may hide in them
// percent-encoded (198%2E51%2E100%2E77), which logmask does not read.
func PercentDecode(b []byte) int {
	n := 0
	for i := 0; i < len(b); i++ {
		if c := b[i]; c == '%' && i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]) {
			b[n] = unhex(b[i+1])<<4 | unhex(b[i+2])
			i += 2
		} else {
			b[n] = c
		}
		n++
	}
	return n
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}
