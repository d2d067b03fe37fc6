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
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	h, err := newHandler(logger, ipmask.Default)
	if err != nil {
		logger.Error("setup", "err", err)
		os.Exit(1)
	}
	if err := http.ListenAndServe("localhost:8080", h); err != nil {
		logger.Error("serve", "err", err)
		os.Exit(1)
	}
}

// newHandler returns a handler that logs each request to logger with the
// client's address masked under p.
func newHandler(logger *slog.Logger, p ipmask.Policy) (http.Handler, error) {
	urls, err := logmask.NewMasker(p, nil) // for addresses inside URLs
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		network := "unknown" // never the raw text of a RemoteAddr we cannot parse
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			if a, err := ipmask.ParseAddr(host); err == nil {
				network = p.Prefix(a).String()
			}
		}
		logger.Info("request",
			"method", r.Method,
			"path", urls.MaskString(r.URL.Path), // decoded, so logmask sees any address
			"network", network,
		)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"network": network})
	}), nil
}
