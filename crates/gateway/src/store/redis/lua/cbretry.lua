-- Store::retry_callback: a taken callback leaves the stream for the retry
-- set, due after the delay, with one attempt more (`n`). Answers 1, or 0
-- when it was not pending (settled already).
-- KEYS: 1 callback stream, 2 retry set, 3 retry items, 4 retry sequence.
-- ARGV: 1 group, 2 stream entry id, 3 delay ms.

local r = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
if #r == 0 then return 0 end
local f = r[1][2]
for i = 1, #f - 1, 2 do
  if f[i] == 'n' then f[i + 1] = fmt((tonumber(f[i + 1]) or 0) + 1) end
end
-- Zero-padded, so equal due times promote in retry order.
local rid = string.format('%020d', redis.call('INCR', KEYS[4]))
redis.call('HSET', KEYS[3], rid, cmsgpack.pack(f))
redis.call('ZADD', KEYS[2], fmt(now_ms() + tonumber(ARGV[3])), rid)
return 1
