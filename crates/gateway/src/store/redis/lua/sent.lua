-- Store::sent: settles the entry, maps the upstream ids, marks the hash;
-- the first time, records the parts for receipts and applies the
-- receipts held for these ids; when the entry was pending and the
-- message's callback asks for it, queues the upstream's answer. Answers
-- whether the entry was pending.
-- KEYS: 1 queue stream, 2 message hash, 3 requeued, 4 the user's
-- delivery stream, then per upstream id its mapping key and its held
-- key, then the callback stream, the connector's waiting index and its
-- unanswered index: a settled message leaves the first for the second,
-- unless it is final (a held final receipt made it so).
-- ARGV: 1 group, 2 stream entry id, 3 message id, 4 ttl ms, 5 the
-- message's callback level ('' for none), 6 connector, 7 how long to keep
-- the hash from now at least (its receipt wait and a grace), 8 the status
-- retention ms, 9.. the upstream ids.

local n = #ARGV - 8
local ck = KEYS[5 + 2 * n]
local waiting, unanswered = KEYS[6 + 2 * n], KEYS[7 + 2 * n]
local ttl = tonumber(ARGV[4])
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
for i = 1, n do
  redis.call('SET', KEYS[3 + 2 * i], ARGV[3], 'PX', ARGV[4])
end
local st = redis.call('HMGET', KEYS[2], 'user', 'state', 'pn', 'sid')
-- `requeued` names a retried message's entry, always a new one, never
-- the hash's `sid`: when the entry settled is `sid`, there is nothing
-- to delete for most messages (one call less). The one exception, a
-- late `sent` of `sid` after another taker retried it, leaves the name
-- of the retried entry until that entry is settled in turn.
if st[4] ~= ARGV[2] then redis.call('HDEL', KEYS[3], ARGV[3]) end
if st[1] then
  -- The parts are recorded the first time only; a message already final
  -- (another taker failed it) takes none.
  local first = n > 0 and not st[3] and not is_final(tonumber(st[2]) or 0)
  if first then
    redis.call('HSET', KEYS[2], 'taken', '1', 'sent_ms', fmt(now_ms()), 'pn', fmt(n))
  else
    redis.call('HSET', KEYS[2], 'taken', '1', 'sent_ms', fmt(now_ms()))
  end
  if acked == 1 and ARGV[5] ~= '' then
    queue_submitted(ck, ARGV[3], redis.call('HGET', KEYS[2], 'm'), 0, ARGV[6], n > 0 and ARGV[9] or '',
      ttl, tonumber(ARGV[5]))
  end
  local final = is_final(tonumber(st[2]) or 0)
  if first then
    for i = 1, n do
      local held = redis.call('GET', KEYS[4 + 2 * i])
      if held then
        redis.call('DEL', KEYS[4 + 2 * i])
        local st, err, done = string.match(held, '^(%d+):(%d+):(%-?%d+)$')
        if st then
          local r = apply(KEYS[2], KEYS[4], ARGV[3], ARGV[8 + i], tonumber(st), tonumber(err),
            tonumber(done), ttl, ck, ARGV[6], tonumber(ARGV[8]))
          if r[1] == R_FINAL then final = true end
        end
      end
    end
  end
  -- Longer only: a message sent late in its retention (or after a
  -- replace) keeps its state to the end of its receipt wait; a final
  -- one (a held receipt made it so) keeps what keep_final gave it.
  if not final and redis.call('PTTL', KEYS[2]) < tonumber(ARGV[7]) then
    redis.call('PEXPIRE', KEYS[2], ARGV[7])
  end
  if acked == 1 then
    redis.call('ZREM', waiting, ARGV[3])
    if not final then redis.call('ZADD', unanswered, fmt(now_ms() + ttl), ARGV[3]) end
  end
end
return acked
