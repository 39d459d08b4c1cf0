-- Store::queue_depth: the stream less what is taken, plus the retry set.
-- KEYS: 1 queue stream, 2 retry set. ARGV: 1 group.

local n = redis.call('XLEN', KEYS[1])
if n > 0 then
  n = n - pending_count(KEYS[1], ARGV[1])
  if n < 0 then n = 0 end
end
return n + redis.call('ZCARD', KEYS[2])
