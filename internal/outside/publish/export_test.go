package publish_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
)

// awkward are links and labels that need escaping in CSV or JSON, or
// that a spreadsheet would take for a formula, and ones that look like
// the escape itself.
var awkward = []string{
	"plain", "a,b", `say "hi"`, "two\nlines", "cr\r\nlf", "tab\there", `back\slash`,
	"=SUM(A1)", "+1", "-1", "@cmd", "\tlead", "\rlead", "'=SUM(A1)", "'quoted", "''", "'",
	"ünïcödé ✓", "<script>&amp;", " =space", ",", `"`,
}

// The exports of a report, for every kind of cell a report holds (bucket
// and range totals, each dimension's values, "other", suppressed cells,
// hidden buckets and summaries) and links and labels that need escaping
// (commas, quotes, newlines, carriage returns, tabs, backslashes,
// formula starts, and text that starts with the formula escape itself):
// the CSV parses back to CSVHeader and one row of 16 fields per cell, no
// link or value starts a formula, and a reader who removes the one
// leading quote the doc describes gets every link and value back, so
// that two different links never read the same; the JSON is valid, its
// cells' links and values are the report's. Found failing: the link
// "=SUM(A1)" and the link "'=SUM(A1)" both read "'=SUM(A1)" in the CSV.
// Checked to fail: with the fix (a leading quote escaped too) undone.
func TestExportsRoundTripEveryCellKind(t *testing.T) {
	ctx := context.Background()
	r := newRollup(t, aggregate.Options{MaxValues: 4})
	for i, link := range awkward {
		for v := range 2 + i%9 { // some links below K, some above
			for j, label := range awkward {
				if (i+j)%3 != 0 {
					continue
				}
				add(t, r, clickstore.Click{
					Link: link, Time: t0.Add(time.Duration(j%3) * time.Hour), Visitor: pseudonym(i, v),
					Network: net4(192, 0, byte(v%3)), Country: []string{"DE", "", "FR"}[j%3],
					Referrer: strings.NewReplacer("\n", "", "\r", "", "\t", "").Replace(label), Device: label,
				}, clickstore.Unique)
			}
		}
	}
	kinds := map[string]bool{}
	for _, q := range []aggregate.Query{
		{Granularity: aggregate.Hour, From: t0.Add(-time.Hour), To: t0.Add(3 * time.Hour), K: 3},
		{Granularity: aggregate.Day, From: t0.Add(-time.Hour), To: t0.Add(3 * time.Hour), K: 1},
	} {
		rep, err := r.Report(ctx, q)
		require.NoError(t, err)
		for _, c := range rep.Cells {
			switch {
			case c.Link == "":
				kinds["summary"] = true
			case c.Suppressed && c.Dimension == aggregate.Total:
				kinds["hidden bucket"] = true
			case c.Suppressed:
				kinds["suppressed"] = true
			case c.Other:
				kinds["other"] = true
			case c.Scope == aggregate.ScopeRange:
				kinds["range"] = true
			default:
				kinds[c.Dimension.String()] = true
			}
		}
		checkExports(t, rep)
	}
	assert.Len(t, kinds, 10, "every kind of cell exported: %v", kinds)
}

// A Report built by hand may hold text that is not UTF-8, which no Click
// holds: the JSON is still valid, with U+FFFD in its place, as WriteJSON's
// doc says, and the CSV still parses back to the bytes given. Checked to
// fail: with the doc's replacement character changed in the test's
// oracle.
func TestExportsOfTextNotUTF8(t *testing.T) {
	for _, s := range []string{"\xff", "a\xfe,b", "=\xc3", "\xed\xa0\x80", "ok\x00nul", "'\x80"} {
		c := aggregate.Cell{Link: s, Granularity: aggregate.Day, Start: t0, End: t0.Add(time.Hour), Dimension: aggregate.Referrer, Value: s}
		rep := aggregate.Report{Query: aggregate.Query{Link: s, Granularity: aggregate.Day, From: t0, To: t0.Add(time.Hour), K: 5}, Cells: []aggregate.Cell{c}}
		var js, cs bytes.Buffer
		require.NoError(t, aggregate.WriteJSON(&js, rep))
		require.NoError(t, aggregate.WriteCSV(&cs, rep))
		require.True(t, json.Valid(js.Bytes()), "%q: valid JSON", s)
		require.True(t, utf8.Valid(js.Bytes()), "%q: JSON in UTF-8", s)
		var doc struct {
			Link  string
			Cells []struct{ Link, Value string }
		}
		require.NoError(t, json.Unmarshal(js.Bytes(), &doc))
		want := strings.ToValidUTF8(s, "\uFFFD")
		for _, got := range []string{doc.Link, doc.Cells[0].Link, doc.Cells[0].Value} {
			// encoding/json replaces each invalid byte, not each run.
			assert.True(t, utf8.ValidString(got) && strings.ReplaceAll(got, "\uFFFD", "") == strings.ReplaceAll(want, "\uFFFD", ""), "%q written %q", s, got)
		}
		rows, err := csv.NewReader(&cs).ReadAll()
		require.NoError(t, err, "%q", s)
		require.Len(t, rows, 2)
		assert.Equal(t, s, readBack(rows[1][1]), "%q: CSV link", s)
	}
}

// readBack undoes the CSV export's formula escape, as its doc describes
// it: one leading single quote is removed. (encoding/csv's reader turns
// \r\n into \n within a field, and so does the test's copy of the link.)
func readBack(field string) string { return strings.TrimPrefix(field, "'") }

func crlf(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

func checkExports(t *testing.T, rep aggregate.Report) {
	t.Helper()
	var cs, js bytes.Buffer
	require.NoError(t, aggregate.WriteCSV(&cs, rep))
	require.NoError(t, aggregate.WriteJSON(&js, rep))

	rows, err := csv.NewReader(bytes.NewReader(cs.Bytes())).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+len(rep.Cells))
	assert.Equal(t, aggregate.CSVHeader, rows[0])
	byLink := map[string]string{}
	for i, c := range rep.Cells {
		row := rows[1+i]
		require.Len(t, row, len(aggregate.CSVHeader))
		for _, f := range []string{row[1], row[6]} {
			assert.False(t, f != "" && strings.ContainsRune("=+-@\t\r", rune(f[0])), "field %q starts a formula", f)
		}
		assert.Equal(t, crlf(c.Link), readBack(row[1]), "link read back")
		assert.Equal(t, crlf(c.Value), readBack(row[6]), "value read back")
		if other, ok := byLink[row[1]]; ok {
			assert.Equal(t, other, c.Link, "two links read the same: %q", row[1])
		}
		byLink[row[1]] = c.Link
	}

	require.True(t, json.Valid(js.Bytes()), "valid JSON")
	require.True(t, utf8.Valid(js.Bytes()), "JSON in UTF-8")
	var doc struct {
		Cells []struct {
			Link, Value string
		}
	}
	require.NoError(t, json.Unmarshal(js.Bytes(), &doc))
	require.Len(t, doc.Cells, len(rep.Cells))
	for i, c := range rep.Cells {
		assert.Equal(t, c.Link, doc.Cells[i].Link)
		assert.Equal(t, c.Value, doc.Cells[i].Value)
	}
}
