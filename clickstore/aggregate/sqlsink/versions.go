package sqlsink

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"

	"github.com/clickanon/clickanon/clickstore/aggregate"
)

// rememberBytes bounds what a Sink remembers of the cells it wrote (their
// sketches' encodings, counted as rememberCost says): the dense sketches
// of some 500 to 1,000 cells, a busy link tracker's flush.
const rememberBytes = 16 << 20

// remembered is what a Sink knows a cell of the database holds: the
// version and the encoding of its sketch, as the Sink's last committed
// write of the cell left them (or read them, under the row's lock).
type remembered struct {
	ver int64
	enc []byte // not modified once remembered
}

// cellMemory remembers, for the cells a Sink wrote on PostgreSQL, the
// version and the sketch it stored, so that the next flush can merge a
// batch's sketch into the stored one before writing, and write the cell
// once (see writeVersioned). An entry is only ever a chance to write once:
// if another writer changed the cell since, the stored version differs,
// the upsert leaves the sketch alone and the Sink merges what it reads.
// So an entry may be dropped at any time, and one kept too long (the
// write of a batch whose commit reply was lost, a row erased) costs a
// second write, never a visitor.
//
// The bound is kept in two generations, as sketchCache's: an entry not
// used for a generation is dropped.
//
// The zero cellMemory is not usable; newCellMemory makes one. It is not
// safe for concurrent use: the Sink's flushMu guards it.
type cellMemory struct {
	cur, old map[key]remembered
	size     int // cost of cur's entries
	half     int // cur's bound
}

func newCellMemory(bound int) *cellMemory {
	return &cellMemory{cur: map[key]remembered{}, half: bound / 2}
}

// rememberCost is what remembering a cell is counted as: its key's text,
// the sketch's encoding and the maps' overhead.
func rememberCost(k *key, r remembered) int { return len(k.link) + len(k.value) + len(r.enc) + 128 }

// get returns what m remembers of k, moving it to the current generation.
func (m *cellMemory) get(k key) (remembered, bool) {
	if r, ok := m.cur[k]; ok {
		return r, true
	}
	r, ok := m.old[k]
	if ok {
		m.put(k, r)
	}
	return r, ok
}

// put remembers r for k, starting a new generation first if the current
// one is full.
func (m *cellMemory) put(k key, r remembered) {
	cost := rememberCost(&k, r)
	if cost > m.half {
		m.forget(k) // would fill a generation alone
		return
	}
	delete(m.old, k)
	if prev, ok := m.cur[k]; ok {
		m.size -= rememberCost(&k, prev)
	} else if m.size+cost > m.half {
		m.old, m.cur, m.size = m.cur, make(map[key]remembered, len(m.cur)), 0
	}
	m.cur[k] = r
	m.size += cost
}

// forget drops what m remembers of k.
func (m *cellMemory) forget(k key) {
	if prev, ok := m.cur[k]; ok {
		m.size -= rememberCost(&k, prev)
		delete(m.cur, k)
	}
	delete(m.old, k)
}

// forgetLink drops what m remembers of link's cells.
func (m *cellMemory) forgetLink(link string) {
	for _, gen := range []map[key]remembered{m.cur, m.old} {
		for k := range gen {
			if k.link == link {
				m.forget(k)
			}
		}
	}
}

// newVersion returns a random version for a sketch written: even, as
// every stored version is (writeVersioned sends an odd one to ask for a
// check alone, which no stored version matches).
func newVersion() int64 { return int64(rand.Uint64() &^ 1) }

// newSalt returns the random number a versioned upsert XORs into the
// version of each sketch it replaces to make the new one's: even, so that
// versions stay even, and never 0, which would give new content its old
// version.
func newSalt() int64 {
	for {
		if s := newVersion(); s != 0 {
			return s
		}
	}
}

// memo is what a write learned of a cell, remembered once its
// transaction commits.
type memo struct {
	k key
	r remembered
}

// What a versioned upsert checks for a row, in its mode array.
const (
	checkNone    = 0 // no sketch sent: the stored one is kept, nothing to check
	checkWritten = 1 // the sketch is written if the stored version is the one sent
	checkKept    = 2 // inserted, or (odd version) the stored version is checked alone
)

// pgUpsertSQL returns PostgreSQL's statement of mode m, which takes any
// number of rows as one array per column.
//
// upsertReturn is the versioned upsert of writeVersioned. Its rows (13
// arrays: the cells' columns and the version sent) are inserted in their
// order, which is sorted, so that writers lock rows in one order and do
// not deadlock (were the order lost, PostgreSQL would detect a deadlock
// and fail one flush, which is retried: nothing would be lost). A row that exists has its counts added; its sketch is
// replaced by the one sent only if the stored version is the version
// sent, and then gets that version XOR the statement's salt ($15) as its
// new one. An odd version sent never matches (stored ones are even), nor
// does a NULL sketch sent replace a stored one. What comes back, for each
// row checked (its mode, $14), is the ordinal and the stored version of
// the rows whose stored version is not the one a success leaves:
// checkWritten expects the new version, checkKept the version sent, made
// even. In the steady state nothing comes back. The sketches take no part
// in the join that finds those rows (the key columns' arrays are read
// twice, the sketches' once), and none comes back: selectSketch reads
// the few that are needed.
//
// upsertSketch replaces the sketches and versions of rows the transaction
// already locked (their counts, sent as 0, are kept). selectSketch reads
// the sketches of rows the transaction locked, by key (6 arrays), with
// their ordinals.
func pgUpsertSQL(m upsertMode) string {
	const (
		keys   = `$1::text[], $2::smallint[], $3::bigint[], $4::smallint[], $5::smallint[], $6::text[]`
		insert = "INSERT INTO clickanon_cells (" + cellColumns + ", ver) "
		// The rows to insert, in their order: unnest in the select list
		// streams the arrays in lockstep, where unnest in FROM would
		// first copy them (sketches and all) into a tuplestore, which
		// spills to a temporary file past work_mem.
		rows = `SELECT unnest($1::text[]), unnest($2::smallint[]), unnest($3::bigint[]), unnest($4::smallint[]),
    unnest($5::smallint[]), unnest($6::text[]), unnest($7::bigint[]), unnest($8::bigint[]), unnest($9::bigint[]),
    unnest($10::bigint[]), unnest($11::bigint[]), unnest($12::bytea[]), unnest($13::bigint[])`
	)
	switch m {
	case upsertSketch:
		return insert + rows + conflict + "sketch = excluded.sketch, ver = excluded.ver"
	case selectSketch:
		return `SELECT i.n, c.sketch FROM unnest(` + keys + `) WITH ORDINALITY AS i(` + cellKeyColumns + `, n)
JOIN clickanon_cells c USING (` + cellKeyColumns + `)`
	}
	const match = "excluded.sketch IS NOT NULL AND clickanon_cells.ver = excluded.ver"
	return `WITH up AS (` + insert + rows + conflict + sums + `,
    sketch = CASE WHEN ` + match + ` THEN excluded.sketch ELSE clickanon_cells.sketch END,
    ver = CASE WHEN ` + match + ` THEN excluded.ver # $15::bigint ELSE clickanon_cells.ver END
    RETURNING ` + cellKeyColumns + `, ver)
SELECT i.n, up.ver FROM up
JOIN unnest(` + keys + `, $13::bigint[], $14::smallint[]) WITH ORDINALITY AS i(` + cellKeyColumns + `, ver, mode, n) USING (` + cellKeyColumns + `)
WHERE i.mode <> 0 AND up.ver IS DISTINCT FROM CASE i.mode WHEN 1 THEN i.ver # $15::bigint ELSE i.ver & -2 END`
}

// writeVersioned writes rows to PostgreSQL in tx, once each in the common
// case. For a cell it remembers, the Sink merges the batch's sketch into
// the remembered one first and sends the union with the remembered
// version: the upsert writes it if the cell still holds that version (no
// other writer changed it since), or leaves the sketch alone. If the
// union is the remembered sketch (no new visitor), it sends no sketch and
// an odd version, asking for the check alone. A cell it does not remember is
// sent with its batch sketch and a new version, which a new row takes.
// The rows that come back (another writer changed the sketch, the Sink
// did not remember the cell, or its row was gone) are merged with what
// they hold and written a second time, under the lock the upsert took.
// What the writes leave is noted in s.memos, remembered if the
// transaction commits.
func (s *Sink) writeVersioned(ctx context.Context, tx *sql.Tx, rows []row, args []any) error {
	var (
		sent  = make([][]byte, len(rows))
		vers  = make([]int64, len(rows))
		modes = make([]int16, len(rows))
		known = make([]bool, len(rows)) // remembered
		salt  = newSalt()
	)
	for i := range rows {
		r := &rows[i]
		vers[i] = newVersion()
		if r.sketch == nil {
			continue // checkNone: the stored sketch stays
		}
		sent[i], modes[i] = r.sketch, checkKept
		m, ok := s.memory.get(r.key)
		if !ok {
			continue
		}
		known[i] = true
		merged, err := s.sketches.merge(m.enc, r.sketch)
		if err != nil {
			return fmt.Errorf("row %d: %w", i+1, err)
		}
		if bytes.Equal(merged, m.enc) {
			// Nothing new: check the version, send and write no sketch
			// (were the row gone, it would come back as inserted).
			sent[i], vers[i] = nil, m.ver|1
			continue
		}
		sent[i], vers[i], modes[i] = merged, m.ver, checkWritten
	}
	args = appendArrays(args[:0], rows, sent, vers)
	res, err := s.stmt(ctx, tx, upsertReturn, len(rows)).QueryContext(ctx, append(args, modes, salt)...)
	if err != nil {
		return err
	}
	type returned struct {
		i   int
		ver sql.NullInt64
	}
	var (
		back    = make([]bool, len(rows)) // came back
		checked []returned
		read    []int // the rows whose stored sketch is needed
	)
	for res.Next() {
		var r returned
		var ord int64
		if err := res.Scan(&ord, &r.ver); err != nil {
			res.Close()
			return err
		}
		if ord < 1 || ord > int64(len(rows)) || back[ord-1] {
			res.Close()
			return fmt.Errorf("database returned row %d of %d", ord, len(rows))
		}
		r.i = int(ord - 1)
		back[r.i] = true
		checked = append(checked, r)
		if !r.ver.Valid || r.ver.Int64 != vers[r.i] {
			read = append(read, r.i) // another writer's sketch, or none
		}
	}
	if err := res.Close(); err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return err
	}
	stored, err := s.readSketches(ctx, tx, rows, read, args)
	if err != nil {
		return err
	}
	var (
		again  []row // rows to write a second time
		againV []int64
	)
	for _, r := range checked {
		mine := rows[r.i].sketch
		var write []byte
		st, ok := stored[r.i]
		switch {
		case !ok:
			// Inserted, though remembered: the row was deleted since
			// (erased, swept). It holds what was sent, which may
			// carry remembered visitors: it gets the batch's alone.
			write = bytes.Clone(mine)
		case st == nil:
			write = bytes.Clone(mine) // the cell had no visitor
		default:
			merged, err := s.sketches.merge(st, mine)
			if err != nil {
				return fmt.Errorf("row %d: %w", r.i+1, err)
			}
			if bytes.Equal(merged, st) {
				if r.ver.Valid {
					s.memos = append(s.memos, memo{rows[r.i].key, remembered{r.ver.Int64, st}})
				}
				continue
			}
			write = merged
		}
		u := rows[r.i]
		u.n, u.sketch = aggregate.Counts{}, write
		again = append(again, u)
		againV = append(againV, newVersion())
	}
	for i := range rows {
		switch {
		case back[i] || modes[i] == checkNone:
		case modes[i] == checkWritten:
			s.memos = append(s.memos, memo{rows[i].key, remembered{vers[i] ^ salt, sent[i]}})
		case !known[i]: // inserted
			s.memos = append(s.memos, memo{rows[i].key, remembered{vers[i], bytes.Clone(sent[i])}})
		}
	}
	if len(again) == 0 {
		return nil
	}
	s.rewrites.Add(uint64(len(again)))
	args = appendArrays(args[:0], again, nil, againV)
	if _, err := s.stmt(ctx, tx, upsertSketch, len(again)).ExecContext(ctx, args...); err != nil {
		return fmt.Errorf("merged sketches: %w", err)
	}
	for i := range again {
		s.memos = append(s.memos, memo{again[i].key, remembered{againV[i], again[i].sketch}})
	}
	return nil
}

// readSketches returns the stored sketches of the rows of rows whose
// indices are read, by index. The transaction holds those rows locked,
// so what it reads is what they hold until it ends.
func (s *Sink) readSketches(ctx context.Context, tx *sql.Tx, rows []row, read []int, args []any) (map[int][]byte, error) {
	if len(read) == 0 {
		return nil, nil
	}
	sel := make([]row, len(read))
	for k, i := range read {
		sel[k] = rows[i]
	}
	args = appendArrays(args[:0], sel, nil, nil)[:6] // the key columns
	res, err := s.stmt(ctx, tx, selectSketch, len(sel)).QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("read stored sketches: %w", err)
	}
	defer res.Close()
	stored := make(map[int][]byte, len(read))
	for res.Next() {
		var (
			ord int64
			sk  []byte
		)
		if err := res.Scan(&ord, &sk); err != nil {
			return nil, fmt.Errorf("read stored sketches: %w", err)
		}
		if ord < 1 || ord > int64(len(read)) {
			return nil, fmt.Errorf("read stored sketches: database returned row %d of %d", ord, len(read))
		}
		stored[read[ord-1]] = sk
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("read stored sketches: %w", err)
	}
	if len(stored) != len(read) {
		return nil, fmt.Errorf("read stored sketches: %d of %d rows found", len(stored), len(read))
	}
	return stored, nil
}

// appendArrays appends PostgreSQL's parameters for rows, one array per
// column in cellColumns' order, then the versions: each row's sketch is
// sketches[i], or its own if sketches is nil.
func appendArrays(args []any, rows []row, sketches [][]byte, vers []int64) []any {
	var (
		text = make([]string, 2*len(rows))
		ints = make([]int64, 9*len(rows)) // one column after another
	)
	if sketches == nil {
		sketches = make([][]byte, len(rows))
		for i := range rows {
			sketches[i] = rows[i].sketch
		}
	}
	links, values := text[:len(rows)], text[len(rows):]
	col := func(j int) []int64 { return ints[j*len(rows) : (j+1)*len(rows)] }
	g, start, dim, other, clicks, uniq, unknown, bots, conv := col(0), col(1), col(2), col(3), col(4), col(5), col(6), col(7), col(8)
	for i := range rows {
		r := &rows[i]
		links[i], values[i] = r.link, r.value
		g[i], start[i], dim[i] = int64(r.g), r.start, int64(r.dim)
		if r.other {
			other[i] = 1
		}
		clicks[i], uniq[i], unknown[i] = int64(r.n.Clicks), int64(r.n.Unique), int64(r.n.UnknownUniqueness)
		bots[i], conv[i] = int64(r.n.Bots), int64(r.n.Conversions)
	}
	return append(args, links, g, start, dim, other, values, clicks, uniq, unknown, bots, conv, sketches, vers)
}
