-- create_queue: creates a queue, as the JavaScript client does.
-- KEYS (2): [1] queue hash, [2] set of queue names.
-- ARGV: [1] vt in seconds, [2] delay in seconds, [3] maxsize, [4] queue name.
-- Returns 1; or QUEUE_EXISTS, writing nothing.
--@include clock
--@include fmt
-- A key of the wrong type fails here, before the first write (a script error keeps
-- earlier writes).
redis.call("SCARD", KEYS[2])
if redis.call("HEXISTS", KEYS[1], "vt") == 1 then return QUEUE_EXISTS end
local sec = clock()
redis.call("HSETNX", KEYS[1], "vt", ARGV[1])
redis.call("HSETNX", KEYS[1], "delay", ARGV[2])
redis.call("HSETNX", KEYS[1], "maxsize", ARGV[3])
redis.call("HSETNX", KEYS[1], "created", fmt(sec))
redis.call("HSETNX", KEYS[1], "modified", fmt(sec))
redis.call("SADD", KEYS[2], ARGV[4])
return 1
