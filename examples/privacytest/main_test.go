package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// TestNoRawIP sends a request from every tricky address form, with the
// address in the path too, and proves that neither the log nor the
// response holds an address that ipmask.Default does not mask.
func TestNoRawIP(t *testing.T) {
	for _, c := range ipmasktest.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			var logs bytes.Buffer
			h, err := newHandler(slog.NewJSONHandler(&logs, nil), ipmask.Default)
			require.NoError(t, err)

			r := httptest.NewRequest(http.MethodGet, "/click/"+url.PathEscape(c.Text), nil)
			r.RemoteAddr = netipAddrPort(c)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)

			require.Equal(t, http.StatusOK, w.Code)
			require.NotEmpty(t, logs.String())
			ipmasktest.AssertNoRawIP(t, ipmask.Default, logs.Bytes(), "log")
			ipmasktest.AssertNoRawIP(t, ipmask.Default, w.Body.Bytes(), "response")
			assert.Contains(t, w.Body.String(), ipmask.Default.Prefix(c.Addr).String())
		})
	}
}

// netipAddrPort writes c's address as Go's HTTP server sets RemoteAddr.
func netipAddrPort(c ipmasktest.Case) string {
	if c.Addr.Is4() {
		return c.Addr.String() + ":4711"
	}
	return "[" + c.Addr.String() + "]:4711"
}

// TestCheckHasTeeth shows the same check catching a handler that logs
// r.RemoteAddr as it is.
func TestCheckHasTeeth(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	leaky := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger.Info("request", "remote", r.RemoteAddr)
	})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "[2002:cb00:7109::1]:4711"
	leaky.ServeHTTP(httptest.NewRecorder(), r)

	leaks := ipmasktest.Leaks(ipmask.Default, logs.Bytes())
	require.Len(t, leaks, 1)
	assert.Equal(t, "2002:cb00:7109::1", leaks[0].Addr.String())
}

func TestUnparseableRemoteAddr(t *testing.T) {
	var logs bytes.Buffer
	h, err := newHandler(slog.NewJSONHandler(&logs, nil), ipmask.Default)
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "203.0.113.9" // no port: not what net/http sets
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Contains(t, logs.String(), `"network":"unknown"`)
	ipmasktest.AssertNoRawIP(t, ipmask.Default, logs.Bytes())
}
