-- Store::deliver: queues an item for a user, stamped with Redis' clock.
-- KEYS: 1 the user's delivery stream. ARGV: 1 ttl ms, 2.. field, value.

local now = now_ms()
-- MINID: items queued more than a ttl ago have expired (see queue_receipt).
local args = {KEYS[1], 'MINID', '~', fmt(now - tonumber(ARGV[1])), '*'}
for i = 2, #ARGV do args[#args + 1] = ARGV[i] end
args[#args + 1] = 'q'
args[#args + 1] = fmt(now)
args[#args + 1] = 'exp'
args[#args + 1] = fmt(now + tonumber(ARGV[1]))
return redis.call('XADD', unpack(args))
