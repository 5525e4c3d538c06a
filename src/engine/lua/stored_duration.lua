-- stored_duration(v): a vt or delay as the queue hash stores it (whole seconds; PyRSMQ may
-- write fractions) in score units, rounded down; nil when v is not a non-negative number. A
-- foreign value beyond the 9,999,999 s maximum counts as the maximum, so a score stays a
-- whole number that fmt can write.
local function stored_duration(v)
  if v == "0" then return 0 end
  local n = tonumber(v)
  if n == nil or n ~= n or n < 0 then return nil end
  if n > 9999999 then n = 9999999 end
  return math.floor(n * UNITS)
end
