-- Store::reroute: the message moves on to the next connector of its
-- route. Settles the entry on the connector it was taken from and adds
-- the message as it now is (its connectors after the one tried) at the
-- tail of the next connector's stream; the message hash follows it
-- ('conn', 'sid', 'm': cancel and replace look there), its state and
-- charge unchanged. Unless the entry was not pending (settled already).
-- Answers 1 when it moved, 0 when not.
-- KEYS: 1 queue stream, 2 requeued, 3 message hash, 4 next queue stream,
-- 5 the waiting index it leaves, 6 the next connector's waiting index.
-- ARGV: 1 group, 2 stream entry id, 3 message id, 4 encoded message,
-- 5 next connector, 6 when its validity ends (ms).

if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[3])
redis.call('ZREM', KEYS[5], ARGV[3])
redis.call('ZADD', KEYS[6], ARGV[6], ARGV[3])
if redis.call('EXISTS', KEYS[4]) == 0 then
  redis.call('XGROUP', 'CREATE', KEYS[4], ARGV[1], '0', 'MKSTREAM')
end
local sid = redis.call('XADD', KEYS[4], '*', 'id', ARGV[3], 'm', ARGV[4])
-- A hash past its retention is not made again half-way.
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HSET', KEYS[3], 'm', ARGV[4], 'conn', ARGV[5], 'sid', sid)
end
return 1
