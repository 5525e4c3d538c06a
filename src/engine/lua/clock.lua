-- clock(): the Redis time as numbers: the seconds, now in score units, now in milliseconds,
-- and the microseconds of the second.
local function clock()
  local t = redis.call("TIME")
  local sec, usec = tonumber(t[1]), tonumber(t[2])
  local ms = sec * 1000 + (usec - usec % 1000) / 1000
  if UNITS == 1000 then return sec, ms, ms, usec end
  return sec, sec * 1000000 + usec, ms, usec
end
