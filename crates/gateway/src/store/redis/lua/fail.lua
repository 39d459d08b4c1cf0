-- Store::fail: a permanent failure: final state, refund, settled, and the
-- user's final receipt queued when wanted; nothing when the entry was not
-- pending (settled already). A message whose callback asks for the
-- upstream's answer gets it first when REJECTED upstream. Answers 1 when
-- it failed it, 0 when not.
-- KEYS: 1 queue stream, 2 message hash, 3 credit, 4 requeued, 5 the
-- user's delivery stream, 6 the callback stream, 7 the connector's
-- waiting index.
-- ARGV: 1 group, 2 stream entry id, 3 message id, 4 state, 5 error code,
-- 6 registered_delivery, 7 parts, 8 ttl ms, 9 encoded message, 10 the
-- message's callback level ('' for none), 11 connector, 12 the status
-- retention ms.

if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[4], ARGV[3])
redis.call('ZREM', KEYS[7], ARGV[3])
local now = now_ms()
if redis.call('EXISTS', KEYS[2]) == 1 then
  -- rules::take_refund: zeroed as it is given back, to a tracked balance.
  local h = redis.call('HMGET', KEYS[2], 'charge', 'accepted_ms')
  local charge = h[1]
  redis.call('HSET', KEYS[2], 'state', ARGV[4], 'error_code', ARGV[5], 'charge', '0',
    'final_ms', fmt(now))
  keep_final(KEYS[2], h[2], tonumber(ARGV[12]), now)
  if (tonumber(charge) or 0) > 0 and redis.call('EXISTS', KEYS[3]) == 1 then
    redis.call('INCRBY', KEYS[3], charge)
  end
end
local st = tonumber(ARGV[4])
local ttl = tonumber(ARGV[8])
local cb = false
if ARGV[10] ~= '' then cb = tonumber(ARGV[10]) end
if cb and st == REJECTED then
  queue_submitted(KEYS[6], ARGV[3], ARGV[9], tonumber(ARGV[5]), ARGV[11], '', ttl, cb)
end
-- One final receipt: sub = the message's parts, dlvrd 0.
if wants(tonumber(ARGV[6]), st) then
  queue_receipt(KEYS[5], ARGV[3], ARGV[9], st, tonumber(ARGV[5]), tonumber(ARGV[7]), 0, now,
    ttl, cb, KEYS[6], ARGV[11], '')
end
return 1
