package burstlog_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/clickanon/clickanon/internal/burstlog"
)

func ExampleLogger() {
	// A text handler without the time, so that the output is stable.
	h := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	l := &burstlog.Logger{Logger: slog.New(h), Mask: func(s string) string { return s }}
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	down := errors.New("connection refused")
	for i := range 90 { // a failure a second for a minute and a half
		l.Fail(ctx, now.Add(time.Duration(i)*time.Second), "store: record failed", down)
	}
	l.OK(ctx, now.Add(90*time.Second), "store: record works again")
	fmt.Println(l.Failures())
	// Output:
	// level=WARN msg="store: record failed" error="connection refused" failures=1 suppressed=0
	// level=WARN msg="store: record failed" error="connection refused" failures=61 suppressed=59
	// level=INFO msg="store: record works again" failures=90 suppressed=29 failing_for=1m30s
	// 90
}
