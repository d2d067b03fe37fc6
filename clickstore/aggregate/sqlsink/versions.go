package sqlsink

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

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
	ver       int64
	enc       []byte // not modified once remembered
	contended bool   // the last check found another writer's version
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
// The bound is kept in generations: an entry not used for a generation
// is dropped.
//
// The zero cellMemory is not usable; newCellMemory makes one. It is not
// safe for concurrent use: the Sink's flushMu guards it.
type cellMemory struct {
	gens generations[key, remembered]
}

func newCellMemory(bound int) *cellMemory {
	return &cellMemory{gens: newGenerations[key, remembered](bound)}
}

// rememberCost is what remembering a cell is counted as: its key's text,
// the sketch's encoding and the maps' overhead.
func rememberCost(k *key, r remembered) int { return len(k.link) + len(k.value) + len(r.enc) + 128 }

// get returns what m remembers of k, moving it to the current generation.
func (m *cellMemory) get(k key) (remembered, bool) { return m.gens.get(k) }

// put remembers r for k (unless it would fill a generation alone).
func (m *cellMemory) put(k key, r remembered) { m.gens.put(k, r, rememberCost(&k, r)) }

// forget drops what m remembers of k.
func (m *cellMemory) forget(k key) { m.gens.delete(k) }

// forgetLink drops what m remembers of link's cells.
func (m *cellMemory) forgetLink(link string) {
	m.gens.deleteFunc(func(k key) bool { return k.link == link })
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

// pgUpsertSQL returns PostgreSQL's statement of mode m for n rows.
//
// upsertReturn is the versioned upsert of writeVersioned. Its n rows (13
// parameters each: the cells' columns and the version sent, in VALUES;
// those with a NULL link are padding, skipped) are inserted in their
// order, which is sorted, so that writers lock rows
// in one order and do not deadlock (were the order lost, PostgreSQL would
// detect a deadlock and fail one flush, which is retried: nothing would
// be lost). 9 parameters follow: the key columns, versions and modes as
// arrays, and the statement's salt. A row that exists has its counts
// added, and its version checked if it was sent a sketch or an odd
// version (its mode is then not 0): the check passes if the stored
// version is the one sent, made even. If it passes and the row was sent a
// sketch and an even version, the sketch replaces the stored one and the
// version XOR the salt becomes its version. If it fails, the stored version gets its low bit
// set, which marks the row for the rest of the statement (stored versions
// are even): the sketch of such a row, and of none other, is returned,
// so that the sketches sent by the upsert that succeeded do not pass
// through the statement's tuplestore. What comes back is the ordinal,
// the stored version and that sketch of each checked row whose version
// is not the one a success leaves (checkWritten expects the new version,
// checkKept the version sent, made even): nothing, in the steady state.
// The transaction then writes each row that came back once more,
// restoring an even version.
//
// upsertSketch, which takes any number of rows as one array per column,
// replaces the versions and (unless sent NULL) the sketches of rows the
// transaction already locked (their counts, sent as 0, are kept).
func pgUpsertSQL(m upsertMode, n int) string {
	const insert = "INSERT INTO clickanon_cells (" + cellColumns + ", ver) "
	if m == upsertSketch {
		// Any number of rows, one array per column.
		return insert + `SELECT * FROM unnest($1::text[], $2::smallint[], $3::bigint[], $4::smallint[], $5::smallint[],
$6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bytea[], $13::bigint[])` +
			conflict + "sketch = COALESCE(excluded.sketch, clickanon_cells.sketch), ver = excluded.ver"
	}
	types := [...]string{"text", "smallint", "bigint", "smallint", "smallint", "text",
		"bigint", "bigint", "bigint", "bigint", "bigint", "bytea", "bigint"}
	var sb strings.Builder
	sb.Grow(1200 + n*200)
	sb.WriteString("WITH up AS (" + insert)
	if n == 0 {
		// The rows as one array per column, in their order: unnest in
		// the select list streams the arrays in lockstep, where unnest
		// in FROM would first copy them into a tuplestore.
		sb.WriteString("SELECT ")
		for j, t := range types {
			if j > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("unnest($" + strconv.Itoa(j+1) + "::" + t + "[])")
		}
		n = 1 // the parameters that follow come after one row's
	} else {
		// The rows, of which those whose link is NULL are padding.
		sb.WriteString("SELECT * FROM (VALUES ")
		valueRows(&sb, n, types[:])
		sb.WriteString(") AS v(" + cellColumns + ", ver) WHERE link IS NOT NULL")
	}

	p := func(k int) string { return "$" + strconv.Itoa(n*(cellParams+1)+k) }
	salt := p(9) + "::bigint"
	const (
		pass    = "clickanon_cells.ver = (excluded.ver & -2)"
		write   = pass + " AND excluded.sketch IS NOT NULL AND (excluded.ver & 1) = 0"
		checked = "(excluded.sketch IS NOT NULL OR (excluded.ver & 1) = 1)"
	)
	sb.WriteString(conflict + sums + `,
    sketch = CASE WHEN ` + write + ` THEN excluded.sketch ELSE clickanon_cells.sketch END,
    ver = CASE WHEN ` + write + ` THEN excluded.ver # ` + salt + `
        WHEN ` + pass + ` OR NOT ` + checked + ` THEN clickanon_cells.ver
        ELSE clickanon_cells.ver # 1 END
    RETURNING ` + cellKeyColumns + `, ver, CASE WHEN ver IS NULL OR (ver & 1) = 1 THEN sketch END AS failed)
SELECT i.n, up.ver, up.failed FROM up
JOIN unnest(` + p(1) + `::text[], ` + p(2) + `::smallint[], ` + p(3) + `::bigint[], ` + p(4) + `::smallint[], ` + p(5) + `::smallint[], ` +
		p(6) + `::text[], ` + p(7) + `::bigint[], ` + p(8) + `::smallint[]) WITH ORDINALITY AS i(` + cellKeyColumns + `, ver, mode, n) USING (` + cellKeyColumns + `)
WHERE i.mode <> 0 AND up.ver IS DISTINCT FROM CASE i.mode WHEN 1 THEN i.ver # ` + salt + ` ELSE i.ver & -2 END`)
	return sb.String()
}

// valueRows appends n rows of a VALUES list, each of parameters of types,
// numbered from $1.
func valueRows(sb *strings.Builder, n int, types []string) {
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('(')
		for j, t := range types {
			if j > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString("$" + strconv.Itoa(i*len(types)+j+1) + "::" + t)
		}
		sb.WriteByte(')')
	}
}

// valuesBytes is the size of a chunk's sketches past which PostgreSQL's
// upsert takes rows of parameters rather than arrays: PostgreSQL copies
// an array parameter whole (twice) before the first row is inserted, and
// the driver builds it element by element, which costs more than the
// parameters' own overhead once the sketches are large (dense), and less
// while they are small.
const valuesBytes = 256 << 10

// writeVersioned writes rows to PostgreSQL in tx, once each in the common
// case. For a cell it remembers, the Sink merges the batch's sketch into
// the remembered one first and sends the union with the remembered
// version: the upsert writes it if the cell still holds that version (no
// other writer changed it since), or leaves the sketch alone. If the
// union is the remembered sketch (no new visitor), it sends no sketch and
// an odd version, asking for the check alone. A cell it does not remember
// is sent with its batch sketch and a new version, which a new row takes.
// The rows that come back (another writer changed the sketch, the Sink
// did not remember the cell, or its row was gone), with the stored sketch
// if another writer's, are merged with it and written a second time,
// under the lock the upsert took.
//
// A cell whose last check failed is contended: other instances write it
// too, and its next check will most likely fail as well. Its union would
// be sent for nothing, so the Sink asks for the check alone and writes
// the union in the second write, from what it remembers if the check
// passed or from the stored sketch that comes back if not. A check that
// passes makes the cell uncontended again.
//
// What the writes leave is noted in s.memos, remembered if the
// transaction commits.
func (s *Sink) writeVersioned(ctx context.Context, tx *sql.Tx, rows []row, args []any) error {
	type plan uint8
	const (
		unknown  plan = iota // not remembered: sent with a new version
		written              // the union sent, written if the version matches
		kept                 // nothing new: the version checked
		deferred             // contended: the version checked, the union written next
	)
	var (
		sent  = make([][]byte, len(rows))
		vers  = make([]int64, len(rows))
		modes = make([]int16, len(rows))
		plans = make([]plan, len(rows))
		rems  = make([]remembered, len(rows))
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
		// Check the version alone unless the union is to be written now
		// (were the row gone, it would come back as inserted).
		rems[i], sent[i], vers[i], plans[i] = m, nil, m.ver|1, deferred
		if m.contended {
			continue
		}
		merged, err := s.sketches.merge(m.enc, r.sketch)
		if err != nil {
			return fmt.Errorf("row %d: %w", i+1, err)
		}
		if bytes.Equal(merged, m.enc) {
			plans[i] = kept
			continue
		}
		sent[i], vers[i], modes[i], plans[i] = merged, m.ver, checkWritten, written
	}
	size := 0
	for _, sk := range sent {
		size += len(sk)
	}
	k := stmtKey{upsertReturn, 0}
	if size > s.valuesBytes {
		k.rows = s.stmtRows(upsertReturn, len(rows))
		args = appendRowArgs(args[:0], rows, sent, vers)
		for range (k.rows - len(rows)) * (cellParams + 1) {
			args = append(args, nil) // padding: NULL
		}
		args = appendKeyArrays(args, rows)
	} else {
		args = appendArrays(args[:0], rows, sent, vers)
		args = append(args, args[:6]...) // the key columns', again
	}
	args = append(args, vers, modes, salt)
	res, err := tx.StmtContext(ctx, s.stmts[k]).QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	var (
		back   = make([]bool, len(rows)) // came back
		found  = make([]sql.NullInt64, len(rows))
		stored = make([][]byte, len(rows)) // the sketches of rows whose check failed
	)
	for res.Next() {
		var (
			ord    int64
			ver    sql.NullInt64
			failed []byte
		)
		if err := res.Scan(&ord, &ver, &failed); err != nil {
			res.Close()
			return err
		}
		if ord < 1 || ord > int64(len(rows)) || back[ord-1] {
			res.Close()
			return fmt.Errorf("database returned row %d of %d", ord, len(rows))
		}
		i := int(ord - 1)
		back[i], found[i], stored[i] = true, ver, failed
	}
	if err := res.Close(); err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return err
	}
	var (
		again  []row // rows to write a second time
		againV []int64
		againC []bool // contended
	)
	rewrite := func(i int, sk []byte, contended bool) {
		u := rows[i]
		u.n, u.sketch = aggregate.Counts{}, sk
		again, againV, againC = append(again, u), append(againV, newVersion()), append(againC, contended)
	}
	note := func(i int, r remembered) { s.memos = append(s.memos, memo{rows[i].key, r}) }
	for i := range rows {
		mine := rows[i].sketch
		switch {
		case modes[i] == checkNone:
		case !back[i]: // the check passed
			switch plans[i] {
			case written:
				note(i, remembered{ver: vers[i] ^ salt, enc: sent[i]})
			case unknown: // inserted
				note(i, remembered{ver: vers[i], enc: bytes.Clone(mine)})
			case deferred:
				merged, err := s.sketches.merge(rems[i].enc, mine)
				if err != nil {
					return fmt.Errorf("row %d: %w", i+1, err)
				}
				if bytes.Equal(merged, rems[i].enc) {
					note(i, remembered{ver: rems[i].ver, enc: rems[i].enc})
				} else {
					rewrite(i, merged, false)
				}
			} // kept: remembered as it was
		case found[i].Valid && found[i].Int64 == vers[i]:
			// Inserted, though remembered: the row was deleted since
			// (erased, swept). It holds what was sent, which may carry
			// remembered visitors or none: it gets the batch's alone.
			rewrite(i, bytes.Clone(mine), false)
		case stored[i] == nil:
			rewrite(i, bytes.Clone(mine), true) // the cell had no visitor
		default: // another writer's sketch; its version is marked
			merged, err := s.sketches.merge(stored[i], mine)
			if err != nil {
				return fmt.Errorf("row %d: %w", i+1, err)
			}
			if !bytes.Equal(merged, stored[i]) {
				rewrite(i, merged, true)
				continue
			}
			// Nothing new for it: the sketch stays, with its version
			// unmarked (or a first one).
			u := rows[i]
			u.n, u.sketch = aggregate.Counts{}, nil
			v := newVersion()
			if found[i].Valid {
				v = found[i].Int64 &^ 1
			}
			again, againV, againC = append(again, u), append(againV, v), append(againC, true)
			note(i, remembered{ver: v, enc: stored[i], contended: true})
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
	for k := range again {
		if again[k].sketch != nil { // a nil one is noted above
			s.memos = append(s.memos, memo{again[k].key, remembered{againV[k], again[k].sketch, againC[k]}})
		}
	}
	return nil
}

// appendKeyArrays appends the key columns of rows as PostgreSQL arrays,
// one per column in cellKeyColumns' order.
func appendKeyArrays(args []any, rows []row) []any {
	var (
		text = make([]string, 2*len(rows))
		ints = make([]int64, 4*len(rows)) // one column after another
	)
	links, values := text[:len(rows)], text[len(rows):]
	g, start, dim, other := ints[:len(rows)], ints[len(rows):2*len(rows)], ints[2*len(rows):3*len(rows)], ints[3*len(rows):]
	for i := range rows {
		r := &rows[i]
		links[i], values[i] = r.link, r.value
		g[i], start[i], dim[i] = int64(r.g), r.start, int64(r.dim)
		if r.other {
			other[i] = 1
		}
	}
	return append(args, links, g, start, dim, other, values)
}

// appendArrays appends PostgreSQL's parameters for rows, one array per
// column in cellColumns' order (each row's sketch is sketches[i], or its
// own if sketches is nil), then the versions.
func appendArrays(args []any, rows []row, sketches [][]byte, vers []int64) []any {
	var (
		ints   = make([]int64, 5*len(rows)) // one column after another
		sketch = make([][]byte, len(rows))
	)
	col := func(j int) []int64 { return ints[j*len(rows) : (j+1)*len(rows)] }
	clicks, uniq, unknown, bots, conv := col(0), col(1), col(2), col(3), col(4)
	for i := range rows {
		r := &rows[i]
		sketch[i] = r.sketch
		if sketches != nil {
			sketch[i] = sketches[i]
		}
		clicks[i], uniq[i], unknown[i] = int64(r.n.Clicks), int64(r.n.Unique), int64(r.n.UnknownUniqueness)
		bots[i], conv[i] = int64(r.n.Bots), int64(r.n.Conversions)
	}
	return append(appendKeyArrays(args, rows), clicks, uniq, unknown, bots, conv, sketch, vers)
}
