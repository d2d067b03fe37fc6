package testkit

import (
	"bytes"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
)

// CheckPrintsAs reports through t every way v prints or logs other than
// as want: each fmt verb, and the text and JSON slog handlers. It is for
// the module's long-lived types (stores, sinks, rollups), which print as
// their name and a summary instead of letting fmt walk fields that other
// goroutines change.
//
// A failure says how the output differs (its length, the first byte that
// differs), never what it holds: a type that prints its fields prints what
// it holds, a kept raw address or a proxy's among them, and a failure
// message is logged like any error.
func CheckPrintsAs(t testing.TB, v any, want string) {
	t.Helper()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q", "%10.3v"} {
		if got := fmt.Sprintf(verb, v); got != want {
			t.Errorf("fmt %s printed %s, want %q", verb, differs(got, want), want)
		}
	}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("debug", "v", v)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("debug", "v", v)
	// The text handler quotes a value only when it must.
	if q, p := "v="+strconv.Quote(want)+"\n", "v="+want+"\n"; !bytes.HasSuffix(text.Bytes(), []byte(q)) && !bytes.HasSuffix(text.Bytes(), []byte(p)) {
		t.Errorf("the text handler wrote a line of %d bytes that does not end in %q", text.Len(), q)
	}
	if w := `"v":` + strconv.Quote(want); !bytes.Contains(js.Bytes(), []byte(w)) {
		t.Errorf("the JSON handler wrote a line of %d bytes without %s", js.Len(), w)
	}
}

// differs describes how got differs from want without quoting got.
func differs(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	return fmt.Sprintf("%d bytes that differ from byte %d on", len(got), i)
}
