package redisstore

import (
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The scripts run atomically on the server, so that deciding whether a click
// is first and holding it is one step, whichever instance runs it. Every
// key a script reads or writes is passed to it in KEYS (none is built from
// an argument or read from an index inside the script), so that Redis
// Cluster routes the call to the node that holds them all, answers ASK or
// TRYAGAIN while their slot migrates, and never lets a script see a key as
// missing because it moved. Scripts that act on what an index lists
// (Sweep, the erasures) get the listed keys from the client, which read the
// index first, and re-check every entry on the server.
//
// Times are 19-digit, zero-padded decimal Unix nanoseconds of the store's
// clock, compared as strings: Lua numbers are doubles, exact for neither
// Unix nanoseconds nor their sum, but fixed-width decimal strings compare
// exactly. The first 13 digits are the Unix millisecond, the last 6 the
// nanoseconds within it.
//
// A marker's value is: recorded time (19 digits), request token (8
// bytes, tokenLen; 16 in values of earlier versions), the click
// (codec.go). A time-index member is: the recorded
// time's last 6 digits, the visitor (16 bytes), the link; its score is the
// recorded millisecond. A visitor-index member is the same without the
// visitor.

// recordBody decides and holds clicks, one after the other.
//
// KEYS: 1 time index, 2 the current epoch key (or the time index again),
// then per click: marker (visitor, link), visitor index, marker (prev,
// link) or the marker again.
// ARGV: 1 PX ms, 2 capacity (0: none), 3 the SHA-1 (hex) of the epoch key
// the client uses, or "" not to check it; then per click: a trim flag ("t":
// trim the indexes, "-": not), the cutoff (19 digits) and the marker's
// value. The client asks for a trim on one Record in trimEvery, so that
// the indexes shed expired entries under traffic without every click
// paying for it.
//
// It reads every marker with one MGET, decides each click in order (a
// click of a visitor and link already decided in this run sees the
// earlier one), then writes: one SET PX per held click and one ZADD per
// index, so that a batch costs the server few calls per click.
//
// Each click gets 1 (first, held), 0 (repeat) or -1 (full). With one click
// the reply is that number, with several an array. If the epoch key is
// checked and is gone (-2) or another (-3), nothing is decided and the
// reply is that number: the clicks' pseudonyms were computed with a key
// the other instances no longer use.
var recordBody = strings.ReplaceAll(`
local ti, px, cap = KEYS[1], ARGV[1], tonumber(ARGV[2])
if ARGV[3] ~= '' then
  local key = redis.call('GET', KEYS[2])
  if not key then return -2 end
  if redis.sha1hex(key) ~= ARGV[3] then return -3 end
end
-- Reads first, in one MGET: every marker and previous-pseudonym marker.
local n = #ARGV - 3
local names = {}
for j = 1, n do
  names[2 * j - 1], names[2 * j] = KEYS[3 * j], KEYS[3 * j + 2]
end
local got = redis.call('MGET', unpack(names))
local now = {} -- markers written by this run, by name
local function current(name, j)
  if now[name] ~= nil then return now[name] end
  return got[j]
end
local out, held, sets, tadd, vadd, vorder = {}, nil, {}, {}, {}, {}
local trim, tcut = false, nil
for j = 1, n do
  local m, vi, pv = KEYS[3 * j], KEYS[3 * j + 1], KEYS[3 * j + 2]
  local a = ARGV[j + 3]
  local cut, val = string.sub(a, 2, 20), string.sub(a, 21)
  local r
  local v = current(m, 2 * j - 1)
  if v and string.sub(v, 1, 19) > cut then
    if string.sub(v, 20, 27) == string.sub(val, 20, 27) then r = 1 else r = 0 end
  elseif pv ~= m then
    local p = current(pv, 2 * j)
    if p and string.sub(p, 1, 19) > cut then r = 0 end
  end
  local cms = string.sub(cut, 1, 13)
  if not r and cap > 0 then
    if not held then
      held = redis.call('ZCOUNT', ti, '(' .. cms, '+inf')
      local cns = string.sub(cut, 14)
      for _, e in ipairs(redis.call('ZRANGEBYSCORE', ti, cms, cms)) do
        if string.sub(e, 1, 6) > cns then held = held + 1 end
      end
    end
    if held >= cap then r = -1 end
  end
  if not r then
    local ms, ns = string.sub(val, 1, 13), string.sub(val, 14, 19)
    local vl = string.sub(m, #vi - 15)
    now[m] = val
    sets[#sets + 1] = m
    sets[#sets + 1] = val
    tadd[#tadd + 1] = ms
    tadd[#tadd + 1] = ns .. vl
    if not vadd[vi] then
      vadd[vi] = {}
      vorder[#vorder + 1] = vi
    end
    table.insert(vadd[vi], ms)
    table.insert(vadd[vi], ns .. string.sub(vl, 17))
    if string.sub(a, 1, 1) == 't' then trim, tcut = true, cms end
    if held then held = held + 1 end
    r = 1
  end
  out[j] = r
end
-- Then the writes: one SET PX per held click, one ZADD per index.
for i = 1, #sets, 2 do redis.call('SET', sets[i], sets[i + 1], 'PX', px) end
if #tadd > 0 then
  redis.call('ZADD', ti, unpack(tadd))
  for _, vi in ipairs(vorder) do
    redis.call('ZADD', vi, unpack(vadd[vi]))
    -- Trims come after the ZADDs so that they never empty (delete) a
    -- key this run still uses: in a migrating Cluster slot, touching a
    -- key that is not there fails the script halfway.
    -- A visitor's index keeps its entries for the slack past their
    -- window, as the time index does: this instance's clock may run
    -- ahead of another's, which still shows the click and must find it
    -- through the index (Latest on any link, EraseVisitor).
    if trim then redis.call('ZREMRANGEBYSCORE', vi, '-inf', '(' .. (tonumber(tcut) - SLACK)) end
    redis.call('PEXPIRE', vi, px)
  end
  if trim then
    -- Entries of clicks that Redis has expired too (the window plus the
    -- slack ago): nothing else refers to them.
    redis.call('ZREMRANGEBYSCORE', ti, '-inf', '(' .. (tonumber(tcut) - SLACK))
  end
  redis.call('PEXPIRE', ti, px)
end
if n == 1 then return out[1] end
return out
`, "SLACK", strconv.FormatInt(slack.Milliseconds(), 10))

var recordScript = redis.NewScript(recordBody)

// In a Cluster slot that is migrating, a script fails at the first call
// that touches a key the node does not hold, and Redis does not undo the
// calls before it. The scripts below therefore read everything first,
// then write, and touch no key after a call that may have deleted it (one
// DEL, one ZREM per index), so they either fail before changing anything
// or run to the end.

// luaCheck is shared by the drop scripts: check(m, sc, e, cut, gone)
// returns the recorded stamp of the entry e scored sc, and, if marker m
// still holds that click, adds m to gone and reports whether it is live
// at cut.
const luaCheck = `
local function check(m, sc, e, cut, gone)
  local rec = string.rep('0', 13 - #sc) .. sc .. string.sub(e, 1, 6)
  local v = redis.call('GET', m)
  if v and string.sub(v, 1, 19) == rec then
    gone[#gone + 1] = m
    return rec, rec > cut
  end
  return rec, false
end
`

// luaDone is shared by the erasing scripts, whose replies count what
// they destroyed: go-redis resends a script run whose reply was lost,
// and the resent run would find nothing left and report 0. Each run is
// given a done key of its own (a request token in the store's slot):
// already(d) returns the reply the first run stored there, if it ran;
// finish(d, px, a, b) stores the reply {a, b} there, expiring with the
// markers (W plus the slack), and returns it. The done key is written last,
// as a new key no call deletes.
const luaDone = `
local function already(d)
  local v = redis.call('GET', d)
  if not v then return nil end
  local i = string.find(v, ':', 1, true)
  return {tonumber(string.sub(v, 1, i - 1)), tonumber(string.sub(v, i + 1))}
end
local function finish(d, px, a, b)
  redis.call('SET', d, a .. ':' .. b, 'PX', px)
  return {a, b}
end
`

// dropScript destroys the clicks that the client found in the time index,
// after checking each entry again: the entry must still exist, and the
// marker is deleted only if it still holds the click the entry names (not
// a later click of the same visitor and link).
//
// KEYS: 1 time index, 2 the run's done key (see luaDone; in sweep mode,
// which reports no count a caller relies on, any key of the slot, not
// touched), then per entry: marker, visitor index.
// ARGV: 1 mode ("sweep": drop only entries expired at the cutoff; "erase":
// drop every entry), 2 cutoff (19 digits), 3 the done key's PX, then the
// time-index members.
//
// It returns {dropped, live}: how many entries it removed, and how many of
// those were live clicks.
var dropScript = redis.NewScript(luaCheck + luaDone + `
local ti, sweep, cut = KEYS[1], ARGV[1] == 'sweep', ARGV[2]
local members = {unpack(ARGV, 4)}
if #members == 0 then return {0, 0} end
local prev = not sweep and already(KEYS[2])
if prev then return prev end
local scores = redis.call('ZMSCORE', ti, unpack(members))
local gone, rem, byvi, live = {}, {}, {}, 0
for j, e in ipairs(members) do
  local sc = scores[j]
  if sc and not (sweep and string.rep('0', 13 - #sc) .. sc .. string.sub(e, 1, 6) > cut) then
    local m, vi = KEYS[2 * j + 1], KEYS[2 * j + 2]
    local _, l = check(m, sc, e, cut, gone)
    if l then live = live + 1 end
    rem[#rem + 1] = e
    byvi[vi] = byvi[vi] or {}
    table.insert(byvi[vi], string.sub(e, 1, 6) .. string.sub(e, 23))
  end
end
if #gone > 0 then redis.call('DEL', unpack(gone)) end
if #rem > 0 then redis.call('ZREM', ti, unpack(rem)) end
for vi, es in pairs(byvi) do redis.call('ZREM', vi, unpack(es)) end
if sweep then return {#rem, live} end
return finish(KEYS[2], ARGV[3], #rem, live)
`)

// eraseVisitorScript destroys every click of one visitor that the client
// listed from the visitor's index, and tells whether the index holds
// entries it was not given (a click recorded meanwhile): the client then
// reads the index again.
//
// KEYS: 1 time index, 2 visitor index, 3 the run's done key (see
// luaDone), then per entry: marker.
// ARGV: 1 cutoff (19 digits), 2 the visitor (16 bytes), 3 the done key's
// PX, then the visitor index's members, each followed by its score.
//
// It returns {live, left}: how many live clicks it destroyed, and how many
// index entries it was not given.
var eraseVisitorScript = redis.NewScript(luaCheck + luaDone + `
local ti, vi, cut, vis = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local prev = already(KEYS[3])
if prev then return prev end
local card = redis.call('ZCARD', vi)
local gone, rem, tis, live = {}, {}, {}, 0
for j = 4, #ARGV, 2 do
  local e, sc = ARGV[j], ARGV[j + 1]
  local m = KEYS[(j - 4) / 2 + 4]
  local _, l = check(m, sc, e, cut, gone)
  if l then live = live + 1 end
  rem[#rem + 1] = e
  tis[#tis + 1] = string.sub(e, 1, 6) .. vis .. string.sub(e, 7)
end
if #gone > 0 then redis.call('DEL', unpack(gone)) end
local removed = 0
if #rem > 0 then
  redis.call('ZREM', ti, unpack(tis))
  removed = redis.call('ZREM', vi, unpack(rem))
end
return finish(KEYS[3], ARGV[3], live, card - removed)
`)
