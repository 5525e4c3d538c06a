-- clock_s(): the Redis time as text: now in score units, now in milliseconds. No number
-- parsing or formatting, for scripts that only compare and store the time.
local function clock_s()
  local t = redis.call("TIME")
  local u = t[2]
  if #u < 6 then u = string.rep("0", 6 - #u) .. u end
  local ms = t[1] .. string.sub(u, 1, 3)
  if UNITS == 1000 then return ms, ms end
  return t[1] .. u, ms
end
