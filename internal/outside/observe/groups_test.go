package observe_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// dotted are address texts that hold dots, which slog's text handler also
// writes between group names and a key, beyond ipmasktest.Cases.
var dotted = []string{
	"203.0.113.9",
	"::ffff:203.0.113.9",
	"64:ff9b::203.0.113.9",
	"9.113.0.203.in-addr.arpa",
	"7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
	"9.113.0.203.static.example.net",
	"ec2-203-0-113-9.compute-1.amazonaws.com",
	"203.0.113.9.nip.io",
}

// TestGroupNamesSpellingAnAddress splits an address text into group names
// and a key, at every dot and at every byte, and logs through the Handler
// around slog's text handler (which joins them with dots) with the groups
// opened in every way: WithGroup, slog.Group attributes, both mixed, and
// attributes given to With inside the groups. No raw address may be
// written. Checked to fail: the bare text handler leaks for each split
// (the teeth assertion).
func TestGroupNamesSpellingAnAddress(t *testing.T) {
	texts := append([]string(nil), dotted...)
	for _, c := range ipmasktest.Cases() {
		if strings.Contains(c.Text, ".") {
			texts = append(texts, c.Text)
		}
	}
	for _, text := range texts {
		var splits [][]string
		// At every dot: the text handler writes it back exactly.
		parts := strings.Split(text, ".")
		for i := 1; i < len(parts); i++ {
			splits = append(splits, []string{strings.Join(parts[:i], "."), strings.Join(parts[i:], ".")})
		}
		splits = append(splits, parts) // every dot a group boundary
		// At every byte: the join adds a dot, which may make new addresses.
		for i := 1; i < len(text); i++ {
			splits = append(splits, []string{text[:i], text[i:]})
		}
		for _, sp := range splits {
			groups, key := sp[:len(sp)-1], sp[len(sp)-1]
			for _, how := range []string{"WithGroup", "Group attr", "mixed", "With inside"} {
				var out, raw bytes.Buffer
				for _, w := range []*bytes.Buffer{&out, &raw} {
					var h slog.Handler = slog.NewTextHandler(w, nil)
					if w == &out {
						mh, err := logmask.NewHandler(h, ipmask.Default, nil)
						require.NoError(t, err)
						h = mh
					}
					logGroups(slog.New(h), how, groups, key)
				}
				if !ipmasktest.AssertNoRawIP(t, ipmask.Default, out.Bytes(), "%q split as %q, %s", text, sp, how) {
					return
				}
				if strings.Join(sp, ".") == text {
					assert.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, raw.Bytes()), "teeth: %q split as %q, %s: %s", text, sp, how, raw.String())
				}
			}
		}
	}
}

// logGroups logs key=1 inside groups, opened as how says.
func logGroups(l *slog.Logger, how string, groups []string, key string) {
	ctx := context.Background()
	switch how {
	case "WithGroup":
		for _, g := range groups {
			l = l.WithGroup(g)
		}
		l.Info("m", key, 1)
	case "With inside":
		for _, g := range groups {
			l = l.WithGroup(g)
		}
		l.With(key, 1).Info("m")
	case "Group attr", "mixed":
		first := 0
		if how == "mixed" && len(groups) > 0 {
			l, first = l.WithGroup(groups[0]), 1
		}
		a := slog.Int(key, 1)
		for i := len(groups) - 1; i >= first; i-- {
			a = slog.Group(groups[i], a)
		}
		l.LogAttrs(ctx, slog.LevelInfo, "m", a)
	}
}
