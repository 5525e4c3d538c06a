-- live_workers: the entries of the liveness hash that have not expired, read without
-- writing.
-- KEYS (1): [1] liveness hash ({ns}:.workers).
-- ARGV: none.
-- Returns {now in milliseconds, id, entry, id, entry, ...}.
--@include clock
--@include fmt
local _, _, now = clock()
local all = redis.call("HGETALL", KEYS[1])
local out = {fmt(now)}
for i = 1, #all, 2 do
  local at = tonumber(string.match(all[i + 1], "expires=(%d+)"))
  if at ~= nil and at > now then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
return out
