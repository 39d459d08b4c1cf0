-- Store::expire_waiting, for one message whose validity ended, from the
-- connector's waiting index or from the head of its stream (a message
-- without a validity_period in its first entry: ARGV 9 is when it
-- ends): queued or in the retry set (and held by no consumer), it leaves
-- them EXPIRED, refunded, with its final receipt queued when wanted (as
-- fail.lua); taken by a consumer, it is looked at again later (in the
-- index); gone, final or sent, it leaves the index. Answers 1 when it
-- expired it, 0 when not.
-- KEYS: 1 message hash, 2 queue stream, 3 credit, 4 retry set, 5 retry
-- messages, 6 requeued, 7 the user's delivery stream, 8 the callback
-- stream, 9 the waiting index.
-- ARGV: 1 message id, 2 group, 3 ENROUTE, 4 EXPIRED, 5 parts, 6 ttl ms,
-- 7 connector, 8 ms until a taken message is looked at again, 9 when its
-- validity ends (ms) if the index does not say, 10 how long an entry is
-- held before its taker counts as dead (RECLAIM_AFTER_MS), 11 the status
-- retention ms.

local now = now_ms()
-- Due by Redis' clock (another tern may have looked at it since; a
-- replace re-scores it).
local due = tonumber(redis.call('ZSCORE', KEYS[9], ARGV[1])) or tonumber(ARGV[9])
if not due or due > now then return 0 end
local h = redis.call('HMGET', KEYS[1], 'sid', 'state', 'taken', 'charge', 'sent_ms', 'm', 'rd',
  'cb', 'conn', 'accepted_ms')
-- Gone, final, sent, or waiting for another connector now (rerouted:
-- its sid names an entry of that connector's stream).
if not h[6] or h[2] ~= ARGV[3] or h[3] or h[5] or h[9] ~= ARGV[7] then
  redis.call('ZREM', KEYS[9], ARGV[1])
  return 0
end
-- Held by a consumer: its taker's, unless held so long that the taker
-- died (a take would reclaim it then; with the connector down none
-- does): then it is let go here and expired.
local function pending(sid)
  local p = redis.pcall('XPENDING', KEYS[2], ARGV[2], sid, sid, 1)
  if type(p) ~= 'table' or p.err or #p == 0 then return false end
  if (tonumber(p[1][3]) or 0) >= tonumber(ARGV[10]) then
    redis.call('XACK', KEYS[2], ARGV[2], sid)
    return false
  end
  return true
end
local function later()
  redis.call('ZADD', KEYS[9], fmt(now + tonumber(ARGV[8])), ARGV[1])
  return 0
end
if redis.call('ZREM', KEYS[4], ARGV[1]) == 1 then
  redis.call('HDEL', KEYS[5], ARGV[1])
else
  local sid = redis.call('HGET', KEYS[6], ARGV[1])
  local entry = sid or h[1]
  if entry and pending(entry) then return later() end
  if not entry or redis.call('XDEL', KEYS[2], entry) == 0 then
    -- In no queue: nothing to expire here.
    redis.call('ZREM', KEYS[9], ARGV[1])
    return 0
  end
  if sid then redis.call('HDEL', KEYS[6], ARGV[1]) end
end
redis.call('ZREM', KEYS[9], ARGV[1])
-- rules::take_refund: zeroed as it is given back, to a tracked balance.
redis.call('HSET', KEYS[1], 'state', ARGV[4], 'error_code', '0', 'charge', '0',
  'final_ms', fmt(now))
keep_final(KEYS[1], h[10], tonumber(ARGV[11]), now)
if (tonumber(h[4]) or 0) > 0 and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('INCRBY', KEYS[3], h[4])
end
-- One final receipt: sub = the message's parts, dlvrd 0.
local st = tonumber(ARGV[4])
if wants(tonumber(h[7]) or 0, st) then
  queue_receipt(KEYS[7], ARGV[1], h[6], st, 0, tonumber(ARGV[5]), 0, now, tonumber(ARGV[6]),
    h[8], KEYS[8], ARGV[7], '')
end
return 1
