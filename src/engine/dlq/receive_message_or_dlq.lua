-- receive_message_or_dlq: receives like receive_message, but a message already received
-- max-receives times is moved to the dead-letter queue instead (rc and fr kept), and the
-- next one is tried.
-- KEYS (4): [1] sorted set, [2] queue hash, [3] DLQ sorted set, [4] DLQ hash.
-- ARGV: [1] vt in score units ("" = the queue's), [2] max receives, [3] the DLQ's realtime
-- channel ("" = none).
-- Returns {id, body, rc, fr}, or false when nothing is receivable; or QUEUE_NOT_FOUND
-- (either queue), BAD_VT, writing nothing; or MORE (call again) after moving or dropping
-- 100 messages.
--@include vt_from_argv
if redis.call("HEXISTS", KEYS[4], "vt") == 0 then return QUEUE_NOT_FOUND end
--@include clock
--@include fmt
--@include transfer
--@include drop_orphan
--@include deliver
--@include notify
local max_receives = tonumber(ARGV[2])
local sec, now, ms = clock()
local now_s, ms_s = fmt(now), fmt(ms)
local moved = 0
for _ = 1, 100 do
  local m = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", now_s, "LIMIT", "0", "1")
  if #m == 0 then
    if moved > 0 then notify(ARGV[3], KEYS[3]) end
    return false
  end
  local id = m[1]
  local f = redis.call("HMGET", KEYS[2], id, id .. ":rc")
  if not f[1] then
    drop_orphan(KEYS[1], KEYS[2], id)
  elseif (tonumber(f[2]) or 0) >= max_receives then
    transfer(KEYS[1], KEYS[2], KEYS[3], KEYS[4], id, now_s, false)
    moved = moved + 1
  else
    if moved > 0 then notify(ARGV[3], KEYS[3]) end
    redis.call("HINCRBY", KEYS[2], "totalrecv", "1")
    return deliver(KEYS[1], KEYS[2], id, f[1], fmt(now + vt), ms_s)
  end
end
if moved > 0 then notify(ARGV[3], KEYS[3]) end
return MORE
