-- Store::replace: a message not yet sent gets its new stored form, if it
-- is still the one the caller read (compare-and-swap on the hash's 'm').
-- Queued: its stream entry is deleted and the new one added at the tail
-- (an entry cannot be rewritten). In the retry set: its stored form there
-- changes, its due time does not. With no replacement (ARGV 5 empty) it
-- only says whether it would replace: REPLACED, and nothing written.
-- KEYS: 1 message hash, 2 queue stream, 3 retry set, 4 retry messages,
-- 5 requeued, 6 the connector's waiting index.
-- ARGV: 1 user, 2 group, 3 ENROUTE, 4 encoded message read, 5 encoded
-- replacement or '', 6 message id, 7 registered_delivery of the
-- replacement, 8 when the replacement's validity ends (ms), 9 how long
-- its hash must live from now at least (a later validity keeps it
-- longer, for the expiry sweep).

local h = redis.call('HMGET', KEYS[1], 'user', 'sid', 'state', 'taken', 'sent_ms', 'm')
if h[1] ~= ARGV[1] then return NOT_FOUND end
if h[3] ~= ARGV[3] or h[5] then return TOO_LATE end
if h[6] ~= ARGV[4] then return REPLACE_RACED end
-- In the stream and held by no consumer.
local function waiting(sid)
  local p = redis.pcall('XPENDING', KEYS[2], ARGV[2], sid, sid, 1)
  if type(p) == 'table' and not p.err and #p > 0 then return false end
  return #redis.call('XRANGE', KEYS[2], sid, sid) > 0
end
local in_retry = redis.call('ZSCORE', KEYS[3], ARGV[6])
local requeued, sid
if not in_retry then
  requeued = redis.call('HGET', KEYS[5], ARGV[6])
  if not requeued and (h[4] or not h[2]) then return TOO_LATE end
  sid = requeued or h[2]
  if not waiting(sid) then return TOO_LATE end
end
if ARGV[5] == '' then return REPLACED end
if in_retry then
  redis.call('HSET', KEYS[4], ARGV[6], ARGV[5])
else
  redis.call('XDEL', KEYS[2], sid)
  local new = redis.call('XADD', KEYS[2], '*', 'id', ARGV[6], 'm', ARGV[5])
  if requeued then
    redis.call('HSET', KEYS[5], ARGV[6], new)
  else
    redis.call('HSET', KEYS[1], 'sid', new)
  end
end
redis.call('HSET', KEYS[1], 'm', ARGV[5], 'rd', ARGV[7])
redis.call('ZADD', KEYS[6], ARGV[8], ARGV[6])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[9]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[9])
end
return REPLACED
