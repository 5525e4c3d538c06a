-- move_message: moves a message to another queue, receivable there at once, with its body,
-- rc and fr.
-- KEYS (4): [1] source sorted set, [2] source hash, [3] destination sorted set,
-- [4] destination hash.
-- ARGV: [1] id, [2] the destination's realtime channel ("" = none).
-- Returns 1 when the message was in the source, 0 when not; or QUEUE_NOT_FOUND (either
-- queue), writing nothing.
--@include clock
--@include fmt
--@include transfer
--@include notify
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return QUEUE_NOT_FOUND end
if redis.call("HEXISTS", KEYS[4], "vt") == 0 then return QUEUE_NOT_FOUND end
if not redis.call("ZSCORE", KEYS[1], ARGV[1]) then return 0 end
local sec, now = clock()
if transfer(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], fmt(now), false) then
  notify(ARGV[2], KEYS[3])
end
return 1
