-- receive_message: receives the next message and hides it for vt.
-- KEYS (2): [1] sorted set, [2] queue hash.
-- ARGV: [1] vt in score units ("" = the queue's).
-- Returns {id, body, rc, fr}; when nothing is receivable, {score units until the next
-- message is due}, or false for an empty queue; or QUEUE_NOT_FOUND, BAD_VT; or MORE (call
-- again) after dropping many body-less members.
--@include vt_from_argv
--@include take_first
--@include fmt
local fr = f[3]
if rc == 1 then
  redis.call("HSET", KEYS[2], id .. ":rc", "1", id .. ":fr", ms_s)
  fr = ms_s
else
  redis.call("HSET", KEYS[2], id .. ":rc", fmt(rc))
end
redis.call("ZADD", KEYS[1], fmt(tonumber(now_s) + vt), id)
return {id, f[1], rc, fr}
