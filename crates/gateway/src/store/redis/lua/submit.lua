-- Store::submit: queue limit, throttle, charge, queue, all or nothing.
-- KEYS: 1 queue stream, 2 credit, 3 tat, 4 message hash, 5 retry set,
-- 6 the connector's waiting index.
-- ARGV: 1 queue limit, 2 rate ('' = unlimited), 3 burst, 4 parts,
-- 5 charge ('' = unlimited), 6 encoded message, 7 message id, 8 user,
-- 9 connector, 10 accepted_ms, 11 retention ms, 12 group, 13 ENROUTE,
-- 14 registered_delivery, 15 the callback level ('' for none), 16 when
-- its validity ends (ms), for a message with a validity_period ('' for
-- one without: the stream's head is its index, docs/store.md, *Expiry*).
-- A refusal returns before the first write, so it changes nothing.

-- Idempotent on the message id: a submit repeated after a lost answer
-- finds the hash and changes nothing.
if redis.call('EXISTS', KEYS[4]) == 1 then return ALREADY_ACCEPTED end
local limit = tonumber(ARGV[1])
local xlen = redis.call('XLEN', KEYS[1])
local len = xlen + redis.call('ZCARD', KEYS[5])
if len >= limit then
  if len - pending_count(KEYS[1], ARGV[12]) >= limit then return QUEUE_FULL end
end
-- rules::gcra::check: allowed when max(TAT, now) + n·T − burst·T ≤ now.
local now, new_tat
if ARGV[2] ~= '' then
  -- Redis' clock in µs (the one user of it: no shared function).
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local interval = math.floor(1000000 / math.max(tonumber(ARGV[2]), 1))
  local tat = tonumber(redis.call('GET', KEYS[3])) or now
  if tat < now then tat = now end
  new_tat = tat + interval * tonumber(ARGV[4])
  if new_tat - interval * math.max(tonumber(ARGV[3]), 1) > now then return THROTTLED end
end
local charge = '0'
if ARGV[5] ~= '' then
  local balance = tonumber(redis.call('GET', KEYS[2])) or 0
  if balance < tonumber(ARGV[5]) then return NO_CREDIT end
  redis.call('DECRBY', KEYS[2], ARGV[5])
  charge = ARGV[5]
end
if new_tat then
  redis.call('SET', KEYS[3], fmt(new_tat), 'PX', fmt(math.floor((new_tat - now) / 1000) + 1000))
end
if xlen == 0 and redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[12], '0', 'MKSTREAM')
end
local sid = redis.call('XADD', KEYS[1], '*', 'id', ARGV[7], 'm', ARGV[6])
redis.call('HSET', KEYS[4], 'm', ARGV[6], 'user', ARGV[8], 'conn', ARGV[9], 'sid', sid,
  'state', ARGV[13], 'accepted_ms', ARGV[10], 'charge', charge, 'error_code', '0',
  'rd', ARGV[14])
if ARGV[15] ~= '' then redis.call('HSET', KEYS[4], 'cb', ARGV[15]) end
redis.call('PEXPIRE', KEYS[4], ARGV[11])
if ARGV[16] ~= '' then redis.call('ZADD', KEYS[6], ARGV[16], ARGV[7]) end
return SUBMIT_OK
