package testlog

import (
	"fmt"
	"sync"
	"testing"
)

func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { fmt.Fprintf(&b, "line %d\n", i) })
	}
	wg.Wait()
	if got := len(b.Lines("line")); got != 8 {
		t.Fatalf("Lines = %d lines, want 8:\n%s", got, b.String())
	}
	if got := b.Lines("line 3"); len(got) != 1 || got[0] != "line 3\n" {
		t.Fatalf("Lines(line 3) = %q", got)
	}
}
