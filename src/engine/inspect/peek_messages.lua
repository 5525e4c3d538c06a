-- peek_messages: the next receivable messages, changing nothing.
-- KEYS (2): [1] sorted set, [2] queue hash.
-- ARGV: [1] max.
-- Returns {{id, body, rc, fr}...}: up to max, in receive order, skipping body-less members
-- (left by a writer that crashed; rc and fr "0" when not stored) and reading on past them,
-- up to 10000 members in all; or QUEUE_NOT_FOUND.
--@include clock
--@include fmt
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return QUEUE_NOT_FOUND end
local sec, now = clock()
local want = tonumber(ARGV[1])
local out, read = {}, 0
while #out < want and read < 10000 do
  local m = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", fmt(now), "LIMIT", fmt(read),
    fmt(want - #out))
  if #m == 0 then break end
  read = read + #m
  for _, id in ipairs(m) do
    local f = redis.call("HMGET", KEYS[2], id, id .. ":rc", id .. ":fr")
    if f[1] then out[#out + 1] = {id, f[1], f[2] or "0", f[3] or "0"} end
  end
end
return out
