-- Store::delivered: delivered (or dropped) items leave the queue.
-- KEYS: 1 delivery stream. ARGV: 1 group, 2.. stream entry ids.

-- Two calls for the whole batch. An id no longer pending here (settled
-- already, or reclaimed by another consumer after we delivered it) is
-- deleted too: it was delivered.
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
local n = redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
redis.call('XDEL', KEYS[1], unpack(ids))
return n
