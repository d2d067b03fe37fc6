package testkit

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestMessage(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []any
		want string
	}{
		{"none", nil, ""},
		{"a string", []any{"plain %d"}, "plain %d"},
		{"a value", []any{struct{ A int }{1}}, "{A:1}"},
		{"a format", []any{"n=%d", 2}, "n=2"},
		{"values", []any{1, 2}, "1 2"},
	} {
		if got := Message(tt.in); got != tt.want {
			t.Errorf("%s: Message = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// recorder is a testing.TB that notes whether it was failed.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }

// A bad call's checks fail a call that panics, returns nil, does not name
// the package or does not say what was wrong, and pass one that does all.
func TestCheckBadCall(t *testing.T) {
	for _, tt := range []struct {
		name string
		call func() error
		fail bool
	}{
		{"good", func() error { return errors.New("pkg: op: nil context") }, false},
		{"panics", func() error { panic("boom") }, true},
		{"nil error", func() error { return nil }, true},
		{"no package", func() error { return errors.New("op: nil context") }, true},
		{"says something else", func() error { return errors.New("pkg: op: closed") }, true},
	} {
		r := &recorder{}
		checkBadCall(r, "pkg", BadCall{tt.name, tt.call, "nil context"})
		if r.failed != tt.fail {
			t.Errorf("%s: failed = %v, want %v", tt.name, r.failed, tt.fail)
		}
	}
}

type printsAsName struct{}

func (printsAsName) String() string { return "name" }

// CheckPrintsAs fails for a type that prints as its name only with some
// verbs (a String without Format: %#v and %d walk the struct).
func TestCheckPrintsAs(t *testing.T) {
	r := &recorder{}
	CheckPrintsAs(r, printsAsName{}, "name")
	if !r.failed {
		t.Error("a String method alone passed")
	}
	r = &recorder{}
	CheckPrintsAs(r, struct{ A int }{}, "name")
	if !r.failed {
		t.Error("a struct passed")
	}
}

type formatsAsName struct{ printsAsName }

func (f formatsAsName) Format(s fmt.State, _ rune) { _, _ = s.Write([]byte(f.String())) }

func (f formatsAsName) LogValue() slog.Value { return slog.StringValue(f.String()) }

// A type with String, Format and LogValue passes.
func TestCheckPrintsAsPasses(t *testing.T) {
	r := &recorder{}
	CheckPrintsAs(r, formatsAsName{}, "name")
	if r.failed {
		t.Error("a type printing as its name failed")
	}
}

// holdsAddr prints as a struct would, walking a field that holds an
// address.
type holdsAddr struct{ Raw string }

// A failure says how the output differs, never what it holds.
func TestCheckPrintsAsQuotesNothing(t *testing.T) {
	r := &messages{}
	CheckPrintsAs(r, holdsAddr{Raw: "203.0.113.9"}, "name")
	if len(r.msgs) == 0 {
		t.Fatal("a struct passed")
	}
	for _, m := range r.msgs {
		if strings.Contains(m, "203.0.113") {
			t.Errorf("a failure quoted what the value holds: %s", strings.ReplaceAll(m, "203.0.113", "…"))
		}
	}
}

// messages is a testing.TB that keeps its failure messages.
type messages struct {
	testing.TB
	msgs []string
}

func (r *messages) Helper() {}
func (r *messages) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
