package aggregate

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// SchemaVersion names the export schema of [WriteJSON] and [WriteCSV]. It
// changes only when a field is renamed, removed or reordered; fields are
// only ever added at the end.
const SchemaVersion = "clickanon.aggregate/v1"

// CSVHeader is the header row [WriteCSV] writes, in column order. Each
// column is the [Cell] field of the same name:
//
//	scope               "bucket" or "range"
//	link                the link; "" in suppressed summaries
//	granularity         "minute", "hour" or "day"
//	start, end          the bucket or range, RFC 3339 in UTC
//	dimension           "total", "country", "network", "referrer" or "device"
//	value               the dimension value; "" for total, other and suppressed cells
//	other               "true" for the cell over the MaxValues cap
//	suppressed          "true" for a cell withheld under the threshold k
//	suppressed_cells    how many cells a suppressed cell stands for
//	clicks, unique, unknown_uniqueness, bots, conversions   the counts
//	visitors            estimated distinct human visitors; 0 when suppressed
//
// The JSON form uses the same names for the fields of each cell.
var CSVHeader = []string{
	"scope", "link", "granularity", "start", "end", "dimension", "value",
	"other", "suppressed", "suppressed_cells",
	"clicks", "unique", "unknown_uniqueness", "bots", "conversions", "visitors",
}

type jsonReport struct {
	Schema      string     `json:"schema"`
	Link        string     `json:"link"`
	Granularity string     `json:"granularity"`
	From        string     `json:"from"`
	To          string     `json:"to"`
	K           int        `json:"k"`
	Cells       []jsonCell `json:"cells"`
}

type jsonCell struct {
	Scope             string `json:"scope"`
	Link              string `json:"link"`
	Granularity       string `json:"granularity"`
	Start             string `json:"start"`
	End               string `json:"end"`
	Dimension         string `json:"dimension"`
	Value             string `json:"value"`
	Other             bool   `json:"other"`
	Suppressed        bool   `json:"suppressed"`
	SuppressedCells   int    `json:"suppressed_cells"`
	Clicks            uint64 `json:"clicks"`
	Unique            uint64 `json:"unique"`
	UnknownUniqueness uint64 `json:"unknown_uniqueness"`
	Bots              uint64 `json:"bots"`
	Conversions       uint64 `json:"conversions"`
	Visitors          uint64 `json:"visitors"`
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// WriteJSON writes r to w as one JSON object:
//
//	{"schema": SchemaVersion, "link": ..., "granularity": ..., "from": ...,
//	 "to": ..., "k": ..., "cells": [{one object per cell, fields as in CSVHeader}]}
//
// Times are RFC 3339 in UTC; counts are JSON numbers. Only what the report
// holds is written: no address and no pseudonym. Text is written as
// encoding/json writes it: a byte that is not valid UTF-8 (in a Report
// built by hand: every Click a Backend counts is valid UTF-8) becomes
// U+FFFD, so that the output is always valid JSON.
func WriteJSON(w io.Writer, r Report) error {
	if w == nil {
		return errors.New("aggregate: write JSON report: nil io.Writer")
	}
	jr := jsonReport{
		Schema:      SchemaVersion,
		Link:        r.Query.Link,
		Granularity: r.Query.Granularity.String(),
		From:        stamp(r.Query.From),
		To:          stamp(r.Query.To),
		K:           r.Query.K,
		Cells:       make([]jsonCell, len(r.Cells)),
	}
	for i, c := range r.Cells {
		jr.Cells[i] = jsonCell{
			Scope: c.Scope.String(), Link: c.Link, Granularity: c.Granularity.String(),
			Start: stamp(c.Start), End: stamp(c.End), Dimension: c.Dimension.String(),
			Value: c.Value, Other: c.Other, Suppressed: c.Suppressed, SuppressedCells: c.SuppressedCells,
			Clicks: c.Clicks, Unique: c.Unique, UnknownUniqueness: c.UnknownUniqueness,
			Bots: c.Bots, Conversions: c.Conversions, Visitors: c.Visitors,
		}
	}
	enc := json.NewEncoder(w)
	if err := enc.Encode(jr); err != nil {
		return fmt.Errorf("aggregate: write JSON report: %w", err)
	}
	return nil
}

// WriteCSV writes r to w as CSV (RFC 4180): the [CSVHeader] row, then one
// row per cell in the report's order. Booleans are "true" or "false",
// times RFC 3339 in UTC. A link or value that a spreadsheet would take for
// a formula (starting with =, +, -, @, tab or carriage return) is written
// with a leading single quote, and so is one that starts with a single
// quote itself, so that a reader gets every link and value back by
// removing one leading single quote where there is one (the link "=x" is
// written with one, the link "'=x" with two).
func WriteCSV(w io.Writer, r Report) error {
	if w == nil {
		return errors.New("aggregate: write CSV report: nil io.Writer")
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("aggregate: write CSV report: %w", err)
	}
	row := make([]string, len(CSVHeader))
	for _, c := range r.Cells {
		row = append(row[:0],
			c.Scope.String(), safeCSV(c.Link), c.Granularity.String(), stamp(c.Start), stamp(c.End),
			c.Dimension.String(), safeCSV(c.Value),
			strconv.FormatBool(c.Other), strconv.FormatBool(c.Suppressed), strconv.Itoa(c.SuppressedCells),
			strconv.FormatUint(c.Clicks, 10), strconv.FormatUint(c.Unique, 10),
			strconv.FormatUint(c.UnknownUniqueness, 10), strconv.FormatUint(c.Bots, 10),
			strconv.FormatUint(c.Conversions, 10), strconv.FormatUint(c.Visitors, 10),
		)
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("aggregate: write CSV report: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("aggregate: write CSV report: %w", err)
	}
	return nil
}

func safeCSV(s string) string {
	if s != "" {
		switch s[0] {
		case '=', '+', '-', '@', '\t', '\r', '\'':
			return "'" + s
		}
	}
	return s
}
