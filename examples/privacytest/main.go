package main

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

func main() {
	h, err := newHandler(slog.NewJSONHandler(os.Stderr, nil), ipmask.Default)
	if err != nil {
		slog.Error("setup", "err", err)
		os.Exit(1)
	}
	if err := http.ListenAndServe("localhost:8080", h); err != nil {
		slog.Error("serve", "err", err)
		os.Exit(1)
	}
}

// newHandler returns a handler that logs each request to sink, through a
// logmask.Handler that masks every address under p, and answers with the
// client's network.
func newHandler(sink slog.Handler, p ipmask.Policy) (http.Handler, error) {
	masking, err := logmask.NewHandler(sink, p, nil)
	if err != nil {
		return nil, err
	}
	logger := slog.New(masking)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		network := "unknown" // never the raw text of a RemoteAddr we cannot parse
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			if a, err := ipmask.ParseAddr(host); err == nil {
				network = p.Prefix(a).String()
			}
		}
		// Logged as they come: the masking handler masks any address in
		// them, the path's (decoded, so percent-encoding hides nothing)
		// and the peer's, whatever its form.
		logger.Info("request",
			"method", r.Method,
			"path", r.URL.Path,
			"remote", r.RemoteAddr,
			"network", network,
		)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"network": network})
	}), nil
}
