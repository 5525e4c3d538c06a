-- get_message: one message by id, hidden or not, changing nothing.
-- KEYS (2): [1] sorted set, [2] queue hash.
-- ARGV: [1] the message id.
-- Returns {id, body, rc, fr, score, hidden} as browse_messages does; false when the id is
-- no member or has no body; or QUEUE_NOT_FOUND.
--@include clock
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return QUEUE_NOT_FOUND end
local id = ARGV[1]
local score = redis.call("ZSCORE", KEYS[1], id)
if not score then return false end
local f = redis.call("HMGET", KEYS[2], id, id .. ":rc", id .. ":fr")
if not f[1] then return false end
local sec, now = clock()
local hidden = 0
if tonumber(score) > now then hidden = 1 end
return {id, f[1], f[2] or "0", f[3] or "0", score, hidden}
