package redisstore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/clickanon/clickanon/clickstore"
)

// validFields are the fields [clickstore.Click.Validate] may name.
var validFields = [...]string{"link", "time", "kind", "visitor", "network", "raw address", "country", "bot", "device", "referrer"}

// validate checks c for op and returns an error that wraps
// clickstore.ErrInvalidClick and names the faulty field and its length, but
// never its value: the messages of Click.Validate quote the value (an
// unmasked network, a raw address), and an error gets logged.
func validate(op string, c clickstore.Click) error {
	err := c.Validate()
	if err == nil {
		return nil
	}
	if !errors.Is(err, clickstore.ErrInvalidClick) {
		return fmt.Errorf("redisstore: %s: %w: the click failed validation", op, clickstore.ErrInvalidClick)
	}
	msg := err.Error()
	for _, f := range validFields {
		if strings.HasPrefix(msg, "clickstore: "+f+" ") {
			return fmt.Errorf("redisstore: %s: %w: field %s%s is not valid", op, clickstore.ErrInvalidClick, f, fieldLen(c, f))
		}
	}
	return fmt.Errorf("redisstore: %s: %w: the click failed validation", op, clickstore.ErrInvalidClick)
}

// fieldLen describes the length of a string field, which is safe to show.
func fieldLen(c clickstore.Click, f string) string {
	var n int
	switch f {
	case "link":
		n = len(c.Link)
	case "country":
		n = len(c.Country)
	case "bot":
		n = len(c.Bot)
	case "device":
		n = len(c.Device)
	case "referrer":
		n = len(c.Referrer)
	default:
		return ""
	}
	return fmt.Sprintf(" (%d bytes)", n)
}
