-- send_batch_stored: the second step of a stored batch send, run in MULTI right after an
-- HSET that stored the bodies under their ids. All or nothing, as send_message_batch: when
-- the send must fail, it removes every body again.
-- KEYS (2): [1] sorted set, [2] queue hash.
-- ARGV: [1] realtime channel ("" = none), [2] the Redis time the ids were made from, in
-- score units, [3] delay in score units ("" = the queue's), [4] the longest body's length,
-- then the ids.
-- Returns the number sent; or QUEUE_NOT_FOUND, BAD_MAXSIZE, MESSAGE_TOO_LONG, BAD_DELAY;
-- or the error of adding to the sorted set. Every failure removes the bodies.
--@include stored_duration
--@include fmt
--@include notify
local function undo(reply)
  redis.call("HDEL", KEYS[2], unpack(ARGV, 5))
  return reply
end
local q = redis.call("HMGET", KEYS[2], "vt", "delay", "maxsize")
if not q[1] then return undo(QUEUE_NOT_FOUND) end
local maxsize = tonumber(q[3])
if maxsize == nil then return undo(BAD_MAXSIZE) end
if maxsize ~= -1 and tonumber(ARGV[4]) > maxsize then return undo(MESSAGE_TOO_LONG) end
local delay
if ARGV[3] == "" then
  delay = stored_duration(q[2])
  if delay == nil then return undo(BAD_DELAY) end
else
  delay = tonumber(ARGV[3])
end
local score = fmt(tonumber(ARGV[2]) + delay)
local n = #ARGV - 4
local zadd = {}
for i = 1, n do
  zadd[2 * i - 1] = score
  zadd[2 * i] = ARGV[4 + i]
end
local added = redis.pcall("ZADD", KEYS[1], unpack(zadd))
if type(added) == "table" and added.err then return undo(added) end
redis.call("HINCRBY", KEYS[2], "totalsent", fmt(n))
notify(ARGV[1], KEYS[1])
return n
