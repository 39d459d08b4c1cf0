-- Moves due callback retries to the callback stream's tail (at most the
-- limit, earliest due first). Answers -1 when the retry set is empty
-- after, else the ms until the next one is due (0: more are due now).
-- KEYS: 1 retry set, 2 retry items, 3 callback stream. ARGV: 1 limit.

local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, rid in ipairs(due) do
  redis.call('ZREM', KEYS[1], rid)
  local v = redis.call('HGET', KEYS[2], rid)
  redis.call('HDEL', KEYS[2], rid)
  if v then
    local f = cmsgpack.unpack(v)
    redis.call('XADD', KEYS[3], '*', unpack(f))
  end
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #nxt == 0 then return -1 end
local d = math.floor(tonumber(nxt[2]) - now)
if d < 0 then d = 0 end
return d
