-- Store::cancel: a message not yet sent leaves its queue or retry set,
-- DELETED, refunded.
-- KEYS: 1 message hash, 2 queue stream, 3 credit, 4 retry set,
-- 5 retry messages, 6 requeued, 7 the connector's waiting index.
-- ARGV: 1 user, 2 group, 3 ENROUTE, 4 DELETED, 5 message id, 6 the status
-- retention ms.

local h = redis.call('HMGET', KEYS[1], 'user', 'sid', 'state', 'taken', 'charge', 'sent_ms',
  'accepted_ms')
if h[1] ~= ARGV[1] then return NOT_FOUND end
if h[3] ~= ARGV[3] or h[6] then return TOO_LATE end
local function pending(sid)
  local p = redis.pcall('XPENDING', KEYS[2], ARGV[2], sid, sid, 1)
  return type(p) == 'table' and not p.err and #p > 0
end
if redis.call('ZREM', KEYS[4], ARGV[5]) == 1 then
  redis.call('HDEL', KEYS[5], ARGV[5])
else
  local sid = redis.call('HGET', KEYS[6], ARGV[5])
  if sid then
    if pending(sid) then return TOO_LATE end
    if redis.call('XDEL', KEYS[2], sid) == 0 then return TOO_LATE end
    redis.call('HDEL', KEYS[6], ARGV[5])
  else
    if h[4] or not h[2] then return TOO_LATE end
    if pending(h[2]) then return TOO_LATE end
    if redis.call('XDEL', KEYS[2], h[2]) == 0 then return TOO_LATE end
  end
end
-- rules::take_refund: the charge is zeroed as it is given back, so never
-- twice, and only to a tracked balance.
local now = now_ms()
redis.call('HSET', KEYS[1], 'state', ARGV[4], 'charge', '0', 'final_ms', fmt(now))
-- As receipts.lua's keep_final (cancel takes no receipt rules).
redis.call('PEXPIREAT', KEYS[1],
  fmt(math.max((tonumber(h[7]) or 0) + tonumber(ARGV[6]),
    now + math.min(tonumber(ARGV[6]), KEEP_AFTER_FINAL))))
redis.call('ZREM', KEYS[7], ARGV[5])
if (tonumber(h[5]) or 0) > 0 and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('INCRBY', KEYS[3], h[5])
end
return CANCELLED
