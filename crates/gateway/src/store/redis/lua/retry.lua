-- Store::retry: a temporary failure settles the entry and puts the
-- message in the retry set, unless the entry was not pending (settled
-- already). Answers 1 when it was retried, 0 when not.
-- KEYS: 1 queue stream, 2 retry set, 3 retry messages, 4 requeued, 5 the
-- connector's waiting index (a retried message is out of its first
-- stream entry: the index holds it from here on).
-- ARGV: 1 group, 2 stream entry id, 3 message id, 4 delay ms,
-- 5 encoded message, 6 when its validity ends (ms).

if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[4], ARGV[3])
redis.call('ZADD', KEYS[2], fmt(now_ms() + tonumber(ARGV[4])), ARGV[3])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[5])
redis.call('ZADD', KEYS[5], ARGV[6], ARGV[3])
return 1
