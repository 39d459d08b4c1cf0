-- Moves due retries to the stream's tail. Answers -1 when the retry set
-- is empty after, else the ms until the next retry is due (0: more are
-- due now than `limit`).
-- KEYS: 1 retry set, 2 retry messages, 3 queue stream, 4 requeued.
-- ARGV: 1 limit.

local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  local m = redis.call('HGET', KEYS[2], id)
  redis.call('HDEL', KEYS[2], id)
  if m then
    local sid = redis.call('XADD', KEYS[3], '*', 'id', id, 'm', m)
    redis.call('HSET', KEYS[4], id, sid)
  end
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #nxt == 0 then return -1 end
local d = math.floor(tonumber(nxt[2]) - now)
if d < 0 then d = 0 end
return d
