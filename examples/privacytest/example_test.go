package main

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"

	"github.com/clickanon/clickanon/ipmask"
)

// Example serves one request that a trusted proxy forwards for a 6to4
// visitor whose address is also in the path and the user agent, and prints
// the log line, the response and what the service stored.
func Example() {
	sink := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the output stable
			}
			return a
		},
	})
	svc, err := newService(sink, ipmask.Default, []string{"10.0.0.0/8"})
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest("GET", "/click/2002:cb00:7109::1", nil)
	r.RemoteAddr = "10.0.0.1:4711" // the proxy
	r.Header.Set("X-Forwarded-For", "2002:cb00:7109::1")
	r.Header.Set("User-Agent", "Mozilla/5.0 (2002:cb00:7109::1; 203.0.113.9)")
	w := httptest.NewRecorder()
	svc.ServeHTTP(w, r)
	fmt.Print(w.Body.String())
	fmt.Println(string(svc.dump()))
	// Output:
	// level=INFO msg=request method=GET path=/click/2002:cb00:7100:: remote=[2002:cb00:7100::]:4711 user_agent="Mozilla/5.0 (2002:cb00:7100::; 203.0.113.0)" network=2002:cb00:7100::/40
	// {"network":"2002:cb00:7100::/40"}
	// [{"network":"2002:cb00:7100::/40","path":"/click/2002:cb00:7100::","user_agent":"Mozilla/5.0 (2002:cb00:7100::; 203.0.113.0)"}]
}
