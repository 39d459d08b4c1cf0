-- Store::queue_callback: a call made whole joins the callback stream,
-- stamped with Redis' clock.
-- KEYS: 1 callback stream. ARGV: 1 ttl ms, 2 the encoded call.

local now = now_ms()
return redis.call('XADD', KEYS[1], '*', 'k', 'c', 'v', ARGV[2], 'q', fmt(now),
  'exp', fmt(now + tonumber(ARGV[1])), 'n', '0')
