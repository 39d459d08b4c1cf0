-- Store::receipt: one part's receipt, held when its upstream id has no
-- mapping yet, else applied (apply, in receipts.lua). Answers {outcome,
-- queued, state}.
-- KEYS: 1 mapping, 2 held, 3 the connector's unanswered index (a final
-- message leaves it). The message hash and the user's delivery
-- stream are named inside the script from what it reads, from the
-- prefixes and suffixes in ARGV (one round trip instead of three; this
-- is the one script that names keys it was not given, which a single
-- Redis allows and a Cluster would not: docs/store.md, "Redis Cluster").
-- ARGV: 1 upstream id, 2 state, 3 error code, 4 done ms, 5 ttl ms,
-- 6/7 message key prefix/suffix, 8/9 delivery key prefix/suffix,
-- 10 the callback stream, 11 the connector, 12 the status retention ms.

-- rules::held_replaces: a receipt replaces the one held for its upstream
-- id, except a non-final one over a final one. `held`: the held value
-- (`<state>:<err>:<done>`) or false.
local function held_replaces(held, st)
  if is_final(st) then return true end
  local ost = held and tonumber(string.match(held, '^(%d+):'))
  return not (ost and is_final(ost))
end
local id = redis.call('GET', KEYS[1])
if not id then
  local st = tonumber(ARGV[2])
  -- rules::held_replaces: a final receipt held is not replaced by a
  -- non-final one.
  local held = false
  if not is_final(st) then held = redis.call('GET', KEYS[2]) end
  if not held_replaces(held, st) then return {R_HELD, 0, 0} end
  redis.call('SET', KEYS[2], ARGV[2] .. ':' .. ARGV[3] .. ':' .. ARGV[4], 'PX', ARGV[5])
  return {R_HELD, 0, 0}
end
-- Keys named by what was read (single Redis only).
local mkey = ARGV[6] .. id .. ARGV[7]
local function stream(user) return ARGV[8] .. (user or '') .. ARGV[9] end
local r = apply(mkey, stream, id, ARGV[1], tonumber(ARGV[2]),
  tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[10], ARGV[11], tonumber(ARGV[12]))
if r[1] == R_FINAL then redis.call('ZREM', KEYS[3], id) end
return r
