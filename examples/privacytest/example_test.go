package main

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"

	"github.com/clickanon/clickanon/ipmask"
)

// Example serves one request from a 6to4 address, with an address in the
// path, and prints the log line and the response.
func Example() {
	sink := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the output stable
			}
			return a
		},
	})
	h, err := newHandler(sink, ipmask.Default)
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest("GET", "/click/203.0.113.9", nil)
	r.RemoteAddr = "[2002:cb00:7109::1]:4711"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Print(w.Body.String())
	// Output:
	// level=INFO msg=request method=GET path=/click/203.0.113.0 remote=[2002:cb00:7100::]:4711 network=2002:cb00:7100::/40
	// {"network":"2002:cb00:7100::/40"}
}
