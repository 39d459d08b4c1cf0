-- Fragment (scripts.rs): the size of a consumer group's pending list.
-- Entries of the group's pending list (taken and not settled); 0 when
-- the group or the stream does not exist.
local function pending_count(stream, group)
  local p = redis.pcall('XPENDING', stream, group)
  if type(p) == 'table' and not p.err then return tonumber(p[1]) or 0 end
  return 0
end
