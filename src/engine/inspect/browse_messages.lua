-- browse_messages: a page of a queue's messages, hidden ones included, changing nothing.
-- KEYS (2): [1] sorted set, [2] queue hash.
-- ARGV: [1] the first rank (0 is the member with the lowest score), [2] how many ranks.
-- Returns {the size of the sorted set, {{id, body, rc, fr, score, hidden}...}}: the members
-- of those ranks in score order (then byte order), skipping body-less members (rc and fr
-- "0" when not stored; hidden 1 when the score is after now, else 0); or QUEUE_NOT_FOUND.
--@include clock
--@include fmt
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return QUEUE_NOT_FOUND end
local out = {}
local n = tonumber(ARGV[2])
if n > 0 then
  local sec, now = clock()
  local last = fmt(tonumber(ARGV[1]) + n - 1)
  local m = redis.call("ZRANGE", KEYS[1], ARGV[1], last, "WITHSCORES")
  for i = 1, #m, 2 do
    local id = m[i]
    local f = redis.call("HMGET", KEYS[2], id, id .. ":rc", id .. ":fr")
    if f[1] then
      local hidden = 0
      if tonumber(m[i + 1]) > now then hidden = 1 end
      out[#out + 1] = {id, f[1], f[2] or "0", f[3] or "0", m[i + 1], hidden}
    end
  end
end
return {redis.call("ZCARD", KEYS[1]), out}
