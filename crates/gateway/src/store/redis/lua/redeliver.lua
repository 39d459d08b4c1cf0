-- Store::redeliver: a pending item goes back to the queue's tail, with
-- the same fields.
-- KEYS: 1 delivery stream. ARGV: 1 group, 2 stream entry id.

local r = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
if #r == 0 then return 0 end
local args = {KEYS[1], '*'}
for _, v in ipairs(r[1][2]) do args[#args + 1] = v end
redis.call('XADD', unpack(args))
return 1
