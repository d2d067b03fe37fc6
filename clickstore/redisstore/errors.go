package redisstore

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/clickanon/clickanon/clickstore"
)

// validFields are the fields [clickstore.Click.Validate] may name.
var validFields = [...]string{"link", "time", "kind", "visitor", "network", "raw address", "country", "bot", "device", "referrer"}

// validate checks c for op and returns an error that wraps
// clickstore.ErrInvalidClick and names the faulty field and its fault (a
// text field's length), but never its value, for an error gets logged.
//
// Click.Validate's messages read "clickstore: <field>: invalid click:
// <fault>"; the field and the fault are taken from them only when the
// field is one Validate documents, and the fault only when it holds no
// more than words, digits and commas, so that a change of Validate's
// wording can never carry a value into this package's errors.
func validate(op string, c clickstore.Click) error {
	err := c.Validate()
	if err == nil {
		return nil
	}
	if errors.Is(err, clickstore.ErrInvalidClick) {
		msg := strings.TrimPrefix(err.Error(), "clickstore: ")
		field, fault, ok := strings.Cut(msg, ": "+clickstore.ErrInvalidClick.Error()+": ")
		if ok && slices.Contains(validFields[:], field) {
			if !plain(fault) {
				fault = "not valid"
			}
			return fmt.Errorf("redisstore: %s: %w: field %s: %s", op, clickstore.ErrInvalidClick, field, fault)
		}
	}
	return fmt.Errorf("redisstore: %s: %w: the click failed validation", op, clickstore.ErrInvalidClick)
}

// plain reports whether s is made of lower-case words, digits, spaces,
// commas and parentheses only: no address, link or label fits in it.
func plain(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case 'a' <= b && b <= 'z', '0' <= b && b <= '9', b == ' ', b == ',', b == '(', b == ')', b == '-':
		default:
			return false
		}
	}
	return true
}
