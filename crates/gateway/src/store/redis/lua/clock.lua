-- Fragment (scripts.rs): numbers as Redis wants them, and Redis' clock.
local function fmt(n) return string.format('%d', n) end
-- Redis' clock, in ms: one clock for every tern process.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
