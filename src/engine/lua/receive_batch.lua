-- Inline code (not a function) that ends the batch receives, after vt_from_argv. Takes up
-- to ARGV[2] receivable messages: hides each for vt and counts its receive. With BODIES (a
-- constant the including script sets) it returns their bodies; without, only which exist.
-- Body-less members (left by a crashed writer that was not atomic) are dropped on the way.
-- Returns: with BODIES, {{id, body, rc, fr}...}; without, {{id, rc, fr}...}; MORE when
-- every member it looked at was body-less (the caller calls again).
--@include clock_s
--@include fmt
--@include drop_orphan
local now_s, ms_s = clock_s()
local out = {}
local m = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", now_s, "LIMIT", "0", ARGV[2])
if #m == 0 then return out end
local score = fmt(tonumber(now_s) + vt)
-- One HMGET for every body, rc and fr (the bodies only with BODIES: otherwise HEXISTS
-- tells which are there); one ZADD and one HSET for all that are delivered.
local w = BODIES and 3 or 2
local fields = {}
for i, id in ipairs(m) do
  if BODIES then fields[3 * i - 2] = id end
  fields[w * i - 1] = id .. ":rc"
  fields[w * i] = id .. ":fr"
end
local f = redis.call("HMGET", KEYS[2], unpack(fields))
local zadd, hset = {}, {}
for i, id in ipairs(m) do
  local body
  if BODIES then body = f[3 * i - 2] else body = redis.call("HEXISTS", KEYS[2], id) == 1 end
  if body then
    local rc, fr = 1, f[w * i]
    if f[w * i - 1] then rc = (tonumber(f[w * i - 1]) or 0) + 1 end
    zadd[#zadd + 1] = score
    zadd[#zadd + 1] = id
    hset[#hset + 1] = fields[w * i - 1]
    if rc == 1 then
      hset[#hset + 1] = "1"
      hset[#hset + 1] = fields[w * i]
      hset[#hset + 1] = ms_s
      fr = ms_s
    else
      hset[#hset + 1] = fmt(rc)
    end
    if BODIES then out[#out + 1] = {id, body, rc, fr} else out[#out + 1] = {id, rc, fr} end
  else
    drop_orphan(KEYS[1], KEYS[2], id)
  end
end
if #out == 0 then return MORE end
redis.call("ZADD", KEYS[1], unpack(zadd))
redis.call("HSET", KEYS[2], unpack(hset))
redis.call("HINCRBY", KEYS[2], "totalrecv", fmt(#out))
return out
