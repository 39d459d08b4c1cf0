-- Store::fail: a permanent failure: final state, refund, settled, and the
-- user's final receipt queued when wanted; nothing when the entry was not
-- pending (settled already). Answers 1 when it failed it, 0 when not.
-- KEYS: 1 queue stream, 2 message hash, 3 credit, 4 requeued, 5 the
-- user's delivery stream.
-- ARGV: 1 group, 2 stream entry id, 3 message id, 4 state, 5 error code,
-- 6 registered_delivery, 7 parts, 8 ttl ms, 9 encoded message.

if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[4], ARGV[3])
local now = now_ms()
if redis.call('EXISTS', KEYS[2]) == 1 then
  -- rules::take_refund: zeroed as it is given back, to a tracked balance.
  local charge = redis.call('HGET', KEYS[2], 'charge')
  redis.call('HSET', KEYS[2], 'state', ARGV[4], 'error_code', ARGV[5], 'charge', '0',
    'final_ms', fmt(now))
  if (tonumber(charge) or 0) > 0 and redis.call('EXISTS', KEYS[3]) == 1 then
    redis.call('INCRBY', KEYS[3], charge)
  end
end
local st = tonumber(ARGV[4])
-- One final receipt: sub = the message's parts, dlvrd 0.
if wants(tonumber(ARGV[6]), st) then
  queue_receipt(KEYS[5], ARGV[3], ARGV[9], st, tonumber(ARGV[5]), tonumber(ARGV[7]), 0, now,
    tonumber(ARGV[8]))
end
return 1
