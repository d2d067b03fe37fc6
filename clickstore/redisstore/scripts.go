package redisstore

import (
	"strconv"

	"github.com/redis/go-redis/v9"
)

// The scripts run atomically on the server, so that deciding whether a click
// is first and holding it is one step, whichever instance runs it. Every key
// of a store shares one hash tag, so the keys a script builds from its
// arguments (the markers named by index members) are in the same slot as
// the keys it is given, which Redis Cluster requires.
//
// A marker is a hash: t (seconds) and n (nanoseconds) of the store clock
// when the click was recorded, k (the request token of the Record call that
// wrote it) and c (the click's binary form). It is live while its recorded
// time is after the cutoff (now - W), passed as seconds and nanoseconds:
// Lua numbers are doubles, exact for both halves, not for Unix nanoseconds.

// luaLive is shared by the scripts: live(key, cs, cn) returns the marker's
// token if it is held and live at the cutoff, else nil.
const luaLive = `
local function live(key, cs, cn)
  local m = redis.call('HMGET', key, 't', 'n', 'k')
  if not m[1] then return nil end
  local t, n = tonumber(m[1]), tonumber(m[2])
  if t > cs or (t == cs and n > cn) then return m[3] or '' end
  return nil
end
`

// luaDrop is shared by the scripts: drop(ti, ni, prefix, id) destroys the
// marker id and its entries in the time index ti and the name index ni.
const luaDrop = `
local function drop(ti, ni, prefix, id)
  redis.call('DEL', prefix .. id)
  redis.call('ZREM', ti, id)
  local link = string.sub(id, 33)
  redis.call('ZREM', ni, 'v:' .. string.sub(id, 1, 32) .. ':' .. link, string.format('l:%03d', #link) .. link .. string.sub(id, 1, 32))
end
`

// recordTrim is how many expired clicks each Record destroys on its way, so
// that under traffic nothing waits for a Sweep to be deleted (the indexes'
// TTLs are refreshed by every new click).
const recordTrim = 8

// recordScript decides and holds a click. It first destroys up to
// recordTrim clicks whose recorded millisecond is before the cutoff's.
//
// KEYS: 1 marker (visitor, link), 2 marker (prev, link) or KEYS[1] again,
// 3 time index, 4 name index.
// ARGV: 1 cutoff s, 2 cutoff ns, 3 now s, 4 now ns, 5 token, 6 PX ms,
// 7 click, 8 time-index member, 9 visitor name member, 10 link name member,
// 11 score (now ms), 12 capacity (0: none), 13 cutoff ms, 14 marker prefix.
//
// It returns 1 (first, held), 0 (repeat) or -1 (full).
var recordScript = redis.NewScript(luaLive + luaDrop + `
local cs, cn = tonumber(ARGV[1]), tonumber(ARGV[2])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[13], 'LIMIT', 0, ` + strconv.Itoa(recordTrim) + `)) do
  drop(KEYS[3], KEYS[4], ARGV[14], id)
end
local k = live(KEYS[1], cs, cn)
if k then
  if k == ARGV[5] then return 1 end
  return 0
end
if KEYS[2] ~= KEYS[1] and live(KEYS[2], cs, cn) then return 0 end
local cap = tonumber(ARGV[12])
if cap > 0 then
  local held = redis.call('ZCOUNT', KEYS[3], '(' .. ARGV[13], '+inf')
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], ARGV[13], ARGV[13])) do
    if live(ARGV[14] .. m, cs, cn) then held = held + 1 end
  end
  if held >= cap then return -1 end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 't', ARGV[3], 'n', ARGV[4], 'k', ARGV[5], 'c', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('ZADD', KEYS[3], ARGV[11], ARGV[8])
redis.call('ZADD', KEYS[4], 0, ARGV[9], 0, ARGV[10])
redis.call('PEXPIRE', KEYS[3], ARGV[6])
redis.call('PEXPIRE', KEYS[4], ARGV[6])
return 1
`)

// latestScript returns t, n, c of every live marker of the given visitors
// on one link, or on any link if ARGV[4] is "".
//
// KEYS: 1 name index.
// ARGV: 1 cutoff s, 2 cutoff ns, 3 marker prefix, 4 link or "",
// 5... visitors (32 hex digits).
var latestScript = redis.NewScript(luaLive + `
local cs, cn = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
local function take(key)
  if live(key, cs, cn) then
    local m = redis.call('HMGET', key, 't', 'n', 'c')
    out[#out+1] = m[1]; out[#out+1] = m[2]; out[#out+1] = m[3]
  end
end
for i = 5, #ARGV do
  local v = ARGV[i]
  if ARGV[4] ~= '' then
    take(ARGV[3] .. v .. ARGV[4])
  else
    for _, m in ipairs(redis.call('ZRANGEBYLEX', KEYS[1], '[v:' .. v .. ':', '(v:' .. v .. ';')) do
      take(ARGV[3] .. v .. string.sub(m, 36))
    end
  end
end
return out
`)

// eraseScript destroys the clicks named by the name index members in a
// range, and returns how many of them were live.
//
// KEYS: 1 time index, 2 name index.
// ARGV: 1 cutoff s, 2 cutoff ns, 3 marker prefix, 4 "v" or "l", 5 range
// start, 6 range end.
var eraseScript = redis.NewScript(luaLive + luaDrop + `
local cs, cn = tonumber(ARGV[1]), tonumber(ARGV[2])
local n = 0
for _, m in ipairs(redis.call('ZRANGEBYLEX', KEYS[2], ARGV[5], ARGV[6])) do
  local id
  if ARGV[4] == 'v' then
    id = string.sub(m, 3, 34) .. string.sub(m, 36)
  else
    local len = tonumber(string.sub(m, 3, 5))
    id = string.sub(m, 6 + len) .. string.sub(m, 6, 5 + len)
  end
  if live(ARGV[3] .. id, cs, cn) then n = n + 1 end
  drop(KEYS[1], KEYS[2], ARGV[3], id)
end
return n
`)

// sweepScript destroys up to ARGV[5] clicks whose time-index score is below
// the cutoff in milliseconds (so certainly expired), and those scored in the
// cutoff's millisecond that are expired to the nanosecond. It returns how
// many it removed, how many index entries remain, and the recorded time
// (seconds, nanoseconds) of the oldest one left.
//
// KEYS: 1 time index, 2 name index.
// ARGV: 1 cutoff ms, 2 marker prefix, 3 cutoff s, 4 cutoff ns, 5 limit.
var sweepScript = redis.NewScript(luaLive + luaDrop + `
local cs, cn = tonumber(ARGV[3]), tonumber(ARGV[4])
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[5]))
for _, id in ipairs(gone) do drop(KEYS[1], KEYS[2], ARGV[2], id) end
local n = #gone
if n < tonumber(ARGV[5]) then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1])) do
    if not live(ARGV[2] .. id, cs, cn) then drop(KEYS[1], KEYS[2], ARGV[2], id); n = n + 1 end
  end
end
local t, ns = '', ''
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0)
if oldest[1] then
  local m = redis.call('HMGET', ARGV[2] .. oldest[1], 't', 'n')
  t, ns = m[1] or '', m[2] or ''
end
return {#gone, n, redis.call('ZCARD', KEYS[1]), t, ns}
`)
