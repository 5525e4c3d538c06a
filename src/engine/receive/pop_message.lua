-- pop_message: receives the next message and deletes it at once. Like the JavaScript
-- client, it does not write fr (it reports now as fr on a first receive).
-- KEYS (2): [1] sorted set, [2] queue hash.
-- ARGV: none.
-- Returns {id, body, rc, fr}; when nothing is receivable, {score units until the next
-- message is due}, or false for an empty queue; or QUEUE_NOT_FOUND, writing nothing; or
-- MORE (call again) after dropping many body-less members.
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return QUEUE_NOT_FOUND end
--@include take_first
redis.call("ZREM", KEYS[1], id)
redis.call("HDEL", KEYS[2], id, id .. ":rc", id .. ":fr")
local fr = f[3]
if rc == 1 then fr = ms_s end
return {id, f[1], rc, fr}
