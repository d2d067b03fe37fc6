package clickstoretest_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/clickanon/clickanon/clickstore/clickstoretest"
)

// recorder is a testing.TB that keeps what was reported instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestErrorChecker(t *testing.T) {
	tests := []struct {
		name  string
		input string
		err   error
		fails bool
	}{
		{"describes the fault", "go-203.0.113.9", errors.New("store: link: 14 bytes, not allowed"), false},
		{"no error at all", "go-203.0.113.9", nil, true},
		{"echoes an address", "go-203.0.113.9", errors.New(`store: link "go-203.0.113.9" not allowed`), true},
		{"quotes the input", "go-spring-sale", errors.New(`store: link "go-spring-sale" not allowed`), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			c := clickstoretest.NewErrorChecker(r)
			c.Check("op", tt.input, tt.err)
			assert.Equal(t, tt.fails, len(r.errs) > 0, "reports: %q", r.errs)
			before := len(r.errs)
			c.Check("op", tt.input, tt.err)
			assert.Equal(t, before, len(r.errs), "an operation's first failure only")
		})
	}
}
