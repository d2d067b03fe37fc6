package stats_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/aggregate"
)

// jsonKeys returns the keys of the JSON object that dec is at, in order,
// with their raw values.
func jsonKeys(t *testing.T, raw json.RawMessage) ([]string, map[string]json.RawMessage) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok)
	var keys []string
	vals := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		require.NoError(t, err)
		k := tok.(string)
		var v json.RawMessage
		require.NoError(t, dec.Decode(&v))
		keys = append(keys, k)
		vals[k] = v
	}
	return keys, vals
}

// The exports follow the documented schema for every report: the JSON
// object's keys are schema, link, granularity, from, to, k, cells, in that
// order; each cell's keys are CSVHeader's, in its order ("the JSON form
// uses the same names"); the CSV is CSVHeader then one row per cell in
// the report's order; both carry the same values, times in RFC 3339 UTC;
// and a link or value a spreadsheet would take for a formula never starts
// a CSV field. Checked to fail: with a cell's JSON fields reordered (the
// test's own copy of the header rotated) and with the CSV escape removed
// (values starting with = and @ and - are generated).
func TestExportsFollowTheSchema(t *testing.T) {
	ctx := context.Background()
	set := randomClicks(5, 3000, 400, []string{"=sale", "+plus", "@at", "-minus", "plain"}, 30*time.Hour)
	r := newRollup(t, &aggregate.Options{MaxValues: 3})
	addAll(t, r, set)
	for _, q := range []aggregate.Query{
		{From: t0.Add(-time.Hour), To: t0.Add(48 * time.Hour), K: 1},
		{Granularity: aggregate.Hour, From: t0, To: t0.Add(30 * time.Hour)},
		{Link: "=sale", Granularity: aggregate.Minute, From: t0.In(time.FixedZone("x", 5*3600)), To: t0.Add(3 * time.Hour), K: 2},
		{Link: "none", From: t0, To: t0.Add(time.Hour)},
	} {
		rep, err := r.Report(ctx, q)
		require.NoError(t, err)
		var js, cs bytes.Buffer
		require.NoError(t, aggregate.WriteJSON(&js, rep))
		require.NoError(t, aggregate.WriteCSV(&cs, rep))

		keys, top := jsonKeys(t, js.Bytes())
		assert.Equal(t, []string{"schema", "link", "granularity", "from", "to", "k", "cells"}, keys)
		assert.JSONEq(t, strconv.Quote(aggregate.SchemaVersion), string(top["schema"]))
		assert.JSONEq(t, strconv.Quote(rep.Query.From.UTC().Format(time.RFC3339)), string(top["from"]))
		assert.JSONEq(t, strconv.Itoa(rep.Query.K), string(top["k"]))
		var cells []json.RawMessage
		require.NoError(t, json.Unmarshal(top["cells"], &cells))
		require.Len(t, cells, len(rep.Cells))

		rows, err := csv.NewReader(&cs).ReadAll()
		require.NoError(t, err)
		require.Len(t, rows, 1+len(rep.Cells))
		assert.Equal(t, aggregate.CSVHeader, rows[0])
		for i, c := range rep.Cells {
			ck, cv := jsonKeys(t, cells[i])
			assert.Equal(t, aggregate.CSVHeader, ck, "cell %d: JSON fields are CSVHeader's, in order", i)
			row := rows[1+i]
			for j, name := range aggregate.CSVHeader {
				var v any
				require.NoError(t, json.Unmarshal(cv[name], &v))
				text := row[j]
				if name == "link" || name == "value" {
					assert.False(t, text != "" && strings.ContainsRune("=+-@\t\r", rune(text[0])), "cell %d: %s %q starts a formula", i, name, text)
					text = strings.TrimPrefix(text, "'")
				}
				switch v := v.(type) {
				case string:
					assert.Equal(t, v, text, "cell %d %s", i, name)
				case bool:
					assert.Equal(t, strconv.FormatBool(v), text, "cell %d %s", i, name)
				case float64:
					assert.Equal(t, strconv.FormatFloat(v, 'f', -1, 64), text, "cell %d %s", i, name)
				default:
					t.Errorf("cell %d %s: JSON type %T", i, name, v)
				}
			}
			assert.Equal(t, c.Start.UTC().Format(time.RFC3339), row[3])
			assert.Equal(t, c.End.UTC().Format(time.RFC3339), row[4])
			assert.Equal(t, strconv.FormatUint(c.Clicks, 10), row[10])
			assert.Equal(t, strconv.FormatUint(c.Visitors, 10), row[15])
			assert.Equal(t, c.Link, strings.TrimPrefix(row[1], "'"))
		}
	}
}
