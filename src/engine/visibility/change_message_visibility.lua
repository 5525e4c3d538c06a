-- change_message_visibility: makes a message receivable vt from now.
-- KEYS (2): [1] sorted set, [2] queue hash.
-- ARGV: [1] id, [2] vt in score units.
-- Returns 1 when the message was there, 0 when not; or QUEUE_NOT_FOUND.
--@include clock
--@include fmt
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return QUEUE_NOT_FOUND end
if not redis.call("ZSCORE", KEYS[1], ARGV[1]) then return 0 end
local sec, now = clock()
redis.call("ZADD", KEYS[1], fmt(now + tonumber(ARGV[2])), ARGV[1])
return 1
