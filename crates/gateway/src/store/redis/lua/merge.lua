-- The loop of a merged script (scripts.rs, `merged`): the script's body
-- is the function `one(KEYS, ARGV)` above, run once per request.
-- ARGV: 1 how many requests, then per request its key count, its
-- argument count and its arguments. KEYS: every request's keys, one
-- request after another. Answers one element per request: {1, what
-- `one` answered}, or {0, the error it raised} (the requests after it
-- still run; the writes it made before the error stay, as in any
-- script). Not the error itself: a client takes an error anywhere in an
-- answer as the whole answer's.

local out, k, a = {}, 0, 2
for i = 1, tonumber(ARGV[1]) do
  local nk, na = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local ks, as = {}, {}
  for j = 1, nk do ks[j] = KEYS[k + j] end
  for j = 1, na do as[j] = ARGV[a + 1 + j] end
  k, a = k + nk, a + 2 + na
  local ok, r = pcall(one, ks, as)
  if not ok then
    if type(r) == 'table' and r.err then r = r.err end
    out[i] = {0, tostring(r)}
  else
    if r == nil or r == false then r = 0 end
    out[i] = {1, r}
  end
end
return out
