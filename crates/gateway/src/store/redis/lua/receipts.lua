-- Fragment (scripts.rs): the store's receipt rules (store/rules/) as Lua,
-- after clock.lua. Each rule names the Rust function it mirrors; a change
-- there comes here too.
-- MessageState::is_final
local function is_final(st) return st >= FINAL_FIRST and st <= FINAL_LAST end
-- rules::wants_receipt: a final receipt per registered_delivery bits 1-0
-- (1 always, 2 on failure), an intermediate one per bit 4.
local function wants(rd, st)
  if is_final(st) then
    local r = rd % 4
    return r == 1 or (r == 2 and st ~= DELIVERED)
  end
  return math.floor(rd / 16) % 2 == 1
end
-- A message just final keeps its state `keep` ms (`[store]
-- status_retention`) from its acceptance, and at least `keep` from now,
-- at most KEEP_AFTER_FINAL ms (a message final late still answers
-- query_sm a while): no longer to the end of a validity or receipt wait
-- it no longer has, and never longer than the retention for a message
-- final at once (docs/store.md, *How long a message's record lives*).
-- One call: no PTTL first.
local function keep_final(hk, accepted, keep, now)
  redis.call('PEXPIREAT', hk,
    fmt(math.max((tonumber(accepted) or 0) + keep, now + math.min(keep, KEEP_AFTER_FINAL))))
end
-- rules::error_code_for_status: query_sm's error_code is one octet.
local function error_code_for_status(err) return math.min(err, 255) end
-- A receipt for the user: to the callback queue `ck` (with the connector
-- and upstream id it came by) when the message has a callback (`cb`),
-- else to the user's delivery stream `sk`.
local function queue_receipt(sk, id, m, st, err, sub, dlvrd, done, ttl, cb, ck, conn, upid)
  local now = now_ms()
  if cb then
    -- Not trimmed: the sender in every tern drains it and drops what
    -- expired.
    redis.call('XADD', ck, '*', 'k', 'r', 'id', id, 'st', fmt(st), 'err', fmt(err),
      'sub', fmt(sub), 'dlvrd', fmt(dlvrd), 'done', fmt(done), 'q', fmt(now),
      'exp', fmt(now + ttl), 'n', '0', 'c', conn, 'up', upid, 'm', m)
    return
  end
  -- MINID: what was queued more than a ttl ago has expired undelivered
  -- (no receiver bound all that time): trimmed, so a queue nobody takes
  -- from stays bounded. The receipt's numbers in one field, `r` =
  -- `st:err:sub:dlvrd:done:q:exp` (decode.rs, `delivery_of`), and the
  -- message: two fields to write, log to the append-only file, read and
  -- parse instead of ten.
  redis.call('XADD', sk, 'MINID', '~', fmt(now - ttl), '*', 'r',
    string.format('%d:%d:%d:%d:%d:%d:%d', st, err, sub, dlvrd, done, now, now + ttl), 'm', m)
end
-- rules::PartCounts::apply on the message hash: `pn` parts (total), `pd`
-- done, `pdl` delivered, `fst` / `ferr` the last part not delivered,
-- `d:<upstream id>` a part counted, `cb` the callback level of a
-- message sent with one. Answers {outcome, queued, state}.
-- sk: the user's delivery stream, or a function naming it from the user;
-- ck: the callback stream; conn: the connector the receipt came by;
-- keep: the store's status retention, ms (keep_final).
-- A single-part message needs no per-part mark: its part count says it.
local function apply(hk, sk, id, upid, st, err, done, ttl, ck, conn, keep)
  local h = redis.call('HMGET', hk, 'm', 'rd', 'pn', 'pd', 'pdl', 'user', 'state', 'cb',
    'accepted_ms')
  if not h[1] then return {R_DUPLICATE, 0, 0} end
  -- Nothing changes a final message (failed, expired, cancelled, or
  -- every part counted): apply's `message_final`.
  if is_final(tonumber(h[7]) or 0) then return {R_DUPLICATE, 0, 0} end
  if type(sk) == 'function' then sk = sk(h[6]) end
  local rd = tonumber(h[2]) or 0
  -- PartCounts::new: a message sent before parts were recorded counts as
  -- one part.
  local pn = math.max(tonumber(h[3]) or 0, 1)
  local pd = tonumber(h[4]) or 0
  local pdl = tonumber(h[5]) or 0
  -- rules::done_or_now: a receipt without a done date is done now.
  if done <= 0 then done = now_ms() end
  if not is_final(st) then
    -- Nothing after the part (`part_done`) or the whole message
    -- (`complete`) is final.
    if pd >= pn or (pn > 1 and redis.call('HEXISTS', hk, 'd:' .. upid) == 1) then
      return {R_DUPLICATE, 0, 0}
    end
    -- The user's receipt (sub = pn, dlvrd = pdl as they are now) when
    -- `rd` wants one. Written out here and below, not as a nested
    -- function: a closure over apply's locals costs every call.
    if wants(rd, st) then
      queue_receipt(sk, id, h[1], st, err, pn, pdl, done, ttl, h[8], ck, conn, upid)
      return {R_INTERMEDIATE, 1, st}
    end
    return {R_INTERMEDIATE, 0, st}
  end
  if pd >= pn then return {R_DUPLICATE, 0, 0} end
  -- `part_done`, and the mark that it is done, in one HSETNX.
  if pn > 1 and redis.call('HSETNX', hk, 'd:' .. upid, fmt(st)) == 0 then
    return {R_DUPLICATE, 0, 0}
  end
  pd = pd + 1
  if st == DELIVERED then pdl = pdl + 1 end
  if pd < pn then
    if st == DELIVERED then
      redis.call('HSET', hk, 'pd', fmt(pd), 'pdl', fmt(pdl))
    else
      redis.call('HSET', hk, 'pd', fmt(pd), 'pdl', fmt(pdl), 'fst', fmt(st), 'ferr', fmt(err))
    end
    return {R_PARTIAL, 0, 0}
  end
  -- The last part: the message is final, DELIVERED when every part was,
  -- else the last part that was not.
  local fst, ferr = DELIVERED, 0
  if st ~= DELIVERED then
    fst, ferr = st, err
  elseif pdl < pd then
    local f = redis.call('HMGET', hk, 'fst', 'ferr')
    fst = tonumber(f[1]) or st
    ferr = tonumber(f[2]) or 0
  end
  redis.call('HSET', hk, 'pd', fmt(pd), 'pdl', fmt(pdl), 'state', fmt(fst),
    'final_ms', fmt(done), 'error_code', fmt(error_code_for_status(ferr)))
  keep_final(hk, h[9], keep, now_ms())
  if wants(rd, fst) then
    queue_receipt(sk, id, h[1], fst, ferr, pn, pdl, done, ttl, h[8], ck, conn, upid)
    return {R_FINAL, 1, fst}
  end
  return {R_FINAL, 0, fst}
end
-- The upstream's answer to a submit (`status`, 0 for ESME_ROK) for a
-- message whose callback level `cb` asks for it (1 or 3).
local function queue_submitted(ck, id, m, status, conn, upid, ttl, cb)
  if cb ~= 1 and cb ~= 3 then return end
  local now = now_ms()
  redis.call('XADD', ck, '*', 'k', 's', 'id', id, 'st', fmt(status), 'q', fmt(now),
    'exp', fmt(now + ttl), 'n', '0', 'c', conn, 'up', upid, 'm', m)
end
