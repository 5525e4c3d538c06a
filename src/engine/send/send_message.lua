-- send_message: sends one message.
-- KEYS (2): [1] sorted set, [2] queue hash.
-- ARGV: [1] id suffix (22 random characters), [2] body, [3] delay in score units ("" = the
-- queue's), [4] realtime channel ("" = none).
-- Returns the new id; or QUEUE_NOT_FOUND, BAD_MAXSIZE, MESSAGE_TOO_LONG, BAD_DELAY, writing
-- nothing.
--@include stored_duration
--@include clock
--@include b36
--@include fmt
--@include notify
local q = redis.call("HMGET", KEYS[2], "vt", "delay", "maxsize")
if not q[1] then return QUEUE_NOT_FOUND end
local maxsize = 65536
if q[3] ~= "65536" then maxsize = tonumber(q[3]) end
if maxsize == nil then return BAD_MAXSIZE end
if maxsize ~= -1 and #ARGV[2] > maxsize then return MESSAGE_TOO_LONG end
local delay
if ARGV[3] == "" then
  delay = stored_duration(q[2])
  if delay == nil then return BAD_DELAY end
else
  delay = tonumber(ARGV[3])
end
local sec, now, ms, usec = clock()
local id = b36(sec * 1000000 + usec) .. ARGV[1]
redis.call("ZADD", KEYS[1], fmt(now + delay), id)
redis.call("HSET", KEYS[2], id, ARGV[2])
redis.call("HINCRBY", KEYS[2], "totalsent", "1")
notify(ARGV[4], KEYS[1])
return id
