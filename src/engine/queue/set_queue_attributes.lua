-- set_queue_attributes: changes a queue's vt, delay or maxsize, and its modified time.
-- KEYS (2): [1] sorted set, [2] queue hash.
-- ARGV: [1] vt in seconds, [2] delay in seconds, [3] maxsize ("" = unchanged).
-- Returns the attributes as get_queue_attributes does; or QUEUE_NOT_FOUND, writing nothing.
--@include clock
--@include fmt
--@include attributes
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return QUEUE_NOT_FOUND end
local sec = clock()
redis.call("HSET", KEYS[2], "modified", fmt(sec))
if ARGV[1] ~= "" then redis.call("HSET", KEYS[2], "vt", ARGV[1]) end
if ARGV[2] ~= "" then redis.call("HSET", KEYS[2], "delay", ARGV[2]) end
if ARGV[3] ~= "" then redis.call("HSET", KEYS[2], "maxsize", ARGV[3]) end
return attributes(KEYS[1], KEYS[2])
