-- change_message_visibility_batch: makes several messages receivable vt from now.
-- KEYS (2): [1] sorted set, [2] queue hash.
-- ARGV: [1] vt in score units, then the ids.
-- Returns how many of them were in the queue; or QUEUE_NOT_FOUND.
--@include clock
--@include fmt
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return QUEUE_NOT_FOUND end
local sec, now = clock()
local score = fmt(now + tonumber(ARGV[1]))
local n = 0
for i = 2, #ARGV do
  if redis.call("ZSCORE", KEYS[1], ARGV[i]) then
    redis.call("ZADD", KEYS[1], score, ARGV[i])
    n = n + 1
  end
end
return n
