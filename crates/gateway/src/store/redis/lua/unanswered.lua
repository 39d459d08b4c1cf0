-- Store::expire_unanswered, for one message of the connector's
-- unanswered index whose wait for receipts ended: not final, it becomes
-- final in the state given, with its final receipt (sub = its parts,
-- dlvrd = those delivered) queued when wanted; it leaves the index.
-- Answers 1 when it made it final, 0 when not.
-- KEYS: 1 message hash, 2 the user's delivery stream, 3 the callback
-- stream, 4 the unanswered index.
-- ARGV: 1 message id, 2 state, 3 parts (when the hash has none), 4 ttl
-- ms, 5 connector, 6 the status retention ms.

local now = now_ms()
local due = tonumber(redis.call('ZSCORE', KEYS[4], ARGV[1]))
if not due or due > now then return 0 end
redis.call('ZREM', KEYS[4], ARGV[1])
local h = redis.call('HMGET', KEYS[1], 'm', 'rd', 'pn', 'pdl', 'state', 'cb', 'accepted_ms')
if not h[1] or is_final(tonumber(h[5]) or 0) then return 0 end
local st = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'error_code', '0', 'final_ms', fmt(now))
keep_final(KEYS[1], h[7], tonumber(ARGV[6]), now)
if wants(tonumber(h[2]) or 0, st) then
  queue_receipt(KEYS[2], ARGV[1], h[1], st, 0, tonumber(h[3]) or tonumber(ARGV[3]),
    tonumber(h[4]) or 0, now, tonumber(ARGV[4]), h[6], KEYS[3], ARGV[5], '')
end
return 1
