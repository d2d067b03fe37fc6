package aggregate

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// sampleReport records clicks from raw addresses (masked by the builder's
// rules) and returns the report with its pseudonyms.
func sampleReport(t *testing.T, k int) (Report, []clickstore.Pseudonym) {
	t.Helper()
	ctx := context.Background()
	r, err := New(nil)
	require.NoError(t, err)
	var ps []clickstore.Pseudonym
	addrs := []string{"192.0.2.77", "192.0.2.201", "2001:db8:aa:bb::1", "2002:c000:2ff::1", "198.51.100.9", "203.0.113.250"}
	for i := range 40 {
		a := netip.MustParseAddr(addrs[i%len(addrs)])
		c := click("=link", t0.Add(time.Duration(i)*time.Minute), uint64(i%12))
		c.Network = ipmask.Default.Prefix(a)
		c.Referrer = "-evil.example"
		ps = append(ps, c.Visitor)
		require.NoError(t, r.Add(ctx, c, clickstore.Unique))
	}
	rep, err := r.Report(ctx, Query{Granularity: Hour, K: k, From: t0, To: t0.Add(2 * time.Hour)})
	require.NoError(t, err)
	require.NotEmpty(t, rep.Cells)
	return rep, ps
}

func TestWriteCSV(t *testing.T) {
	rep, ps := sampleReport(t, 3)
	var buf bytes.Buffer
	require.NoError(t, WriteCSV(&buf, rep))

	rows, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, len(rep.Cells)+1)
	assert.Equal(t, []string{"scope", "link", "granularity", "start", "end", "dimension", "value", "other", "suppressed", "suppressed_cells",
		"clicks", "unique", "unknown_uniqueness", "bots", "conversions", "visitors"}, rows[0], "the documented column order")
	for i, c := range rep.Cells {
		row := rows[i+1]
		wantLink := c.Link
		if wantLink != "" {
			wantLink = "'" + wantLink // "=link" would be a formula
		}
		wantValue := c.Value
		if strings.HasPrefix(wantValue, "-") {
			wantValue = "'" + wantValue
		}
		assert.Equal(t, []string{
			c.Scope.String(), wantLink, c.Granularity.String(), c.Start.UTC().Format(time.RFC3339), c.End.UTC().Format(time.RFC3339),
			c.Dimension.String(), wantValue, strconv.FormatBool(c.Other), strconv.FormatBool(c.Suppressed), strconv.Itoa(c.SuppressedCells),
			strconv.FormatUint(c.Clicks, 10), strconv.FormatUint(c.Unique, 10), strconv.FormatUint(c.UnknownUniqueness, 10),
			strconv.FormatUint(c.Bots, 10), strconv.FormatUint(c.Conversions, 10), strconv.FormatUint(c.Visitors, 10),
		}, row, "row %d", i+1)
	}
	assertNothingPersonal(t, buf.String(), ps)
}

func TestWriteJSON(t *testing.T) {
	rep, ps := sampleReport(t, 3)
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, rep))

	var got map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
	assert.Equal(t, SchemaVersion, got["schema"])
	assert.Equal(t, "hour", got["granularity"])
	assert.Equal(t, "2026-03-03T10:00:00Z", got["from"])
	assert.Equal(t, "2026-03-03T12:00:00Z", got["to"])
	assert.Equal(t, float64(3), got["k"])
	cells, ok := got["cells"].([]any)
	require.True(t, ok)
	require.Len(t, cells, len(rep.Cells))
	for i, raw := range cells {
		m := raw.(map[string]any)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		assert.ElementsMatch(t, CSVHeader, keys, "JSON cells use the CSV column names")
		c := rep.Cells[i]
		assert.Equal(t, c.Link, m["link"])
		assert.Equal(t, c.Value, m["value"])
		assert.Equal(t, c.Dimension.String(), m["dimension"])
		assert.Equal(t, float64(c.Clicks), m["clicks"])
		assert.Equal(t, float64(c.Visitors), m["visitors"])
		assert.Equal(t, c.Suppressed, m["suppressed"])
	}
	assertNothingPersonal(t, buf.String(), ps)
}

// assertNothingPersonal fails if out holds an address the default policy
// does not mask, or any pseudonym in any common form.
func assertNothingPersonal(t *testing.T, out string, ps []clickstore.Pseudonym) {
	t.Helper()
	ipmasktest.AssertNoRawIP(t, ipmask.Default, out)
	lower := strings.ToLower(out)
	for _, p := range ps {
		assert.NotContains(t, lower, p.String(), "a pseudonym is in the export")
		assert.NotContains(t, out, string(p[:]), "a raw pseudonym is in the export")
	}
	for _, raw := range []string{"192.0.2.77", "192.0.2.201", "2001:db8:aa:bb::1", "2002:c000:2ff::1", "198.51.100.9", "203.0.113.250"} {
		assert.NotContains(t, out, raw)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrors(t *testing.T) {
	rep, _ := sampleReport(t, 3)
	assert.ErrorContains(t, WriteCSV(failWriter{}, rep), `aggregate: write CSV report: disk full`)
	assert.ErrorContains(t, WriteJSON(failWriter{}, rep), `aggregate: write JSON report: disk full`)
}
