-- The loop of a merged script (scripts.rs, `merged`): the script's body
-- is the function `one(k0, a0, nk, na)` above, run once per request,
-- with its `KEYS[i]` read as `KEYS[k0 + i]`, `ARGV[i]` as `ARGV[a0 + i]`,
-- `#KEYS` as `nk` and `#ARGV` as `na` (so no request's keys or arguments
-- are copied). A body must not read past its own: `ARGV[na + 1]` is the
-- next request's. `now_ms` is Redis' clock read once per invocation (the
-- invocation is atomic: its requests happen at one time).
-- ARGV: 1 how many requests, then per request its key count, its
-- argument count and its arguments. KEYS: every request's keys, one
-- request after another. Answers two elements per request: 1 and what
-- `one` answered, or 0 and the error it raised (the requests after it
-- still run; the writes it made before the error stay, as in any
-- script). Not the error itself: a client takes an error anywhere in an
-- answer as the whole answer's.

local out, k, a = {}, 0, 2
for i = 1, tonumber(ARGV[1]) do
  local nk, na = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local ok, r = pcall(one, k, a + 1, nk, na)
  k, a = k + nk, a + 2 + na
  if ok then
    if r == nil or r == false then r = 0 end
    out[2 * i - 1], out[2 * i] = 1, r
  else
    if type(r) == 'table' and r.err then r = r.err end
    r = tostring(r)
    -- SCRIPT KILL (Redis 6.2 raises it as a plain error, which pcall
    -- would catch) ends the whole invocation, not one request.
    if string.find(r, 'Script killed', 1, true) then error(r) end
    out[2 * i - 1], out[2 * i] = 0, r
  end
end
return out
