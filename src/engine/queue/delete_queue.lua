-- delete_queue: deletes a queue and its messages.
-- KEYS (3): [1] queue hash, [2] sorted set, [3] set of queue names.
-- ARGV: [1] queue name.
-- Returns 1; or QUEUE_NOT_FOUND, writing nothing.
-- UNLINK, not DEL: the keys of a large queue are freed in the background, not while Redis
-- waits.
if redis.call("HEXISTS", KEYS[1], "vt") == 0 then return QUEUE_NOT_FOUND end
redis.call("SREM", KEYS[3], ARGV[1])
redis.call("UNLINK", KEYS[1], KEYS[2])
return 1
