-- redrive: moves receivable messages from a dead-letter queue to another queue, receivable
-- there at once, with rc and fr reset.
-- KEYS (4): [1] DLQ sorted set, [2] DLQ hash, [3] destination sorted set,
-- [4] destination hash.
-- ARGV: [1] max, [2] the destination's realtime channel ("" = none).
-- Returns how many moved; or QUEUE_NOT_FOUND (either queue), writing nothing.
--@include clock
--@include fmt
--@include transfer
--@include notify
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return QUEUE_NOT_FOUND end
if redis.call("HEXISTS", KEYS[4], "vt") == 0 then return QUEUE_NOT_FOUND end
local sec, now = clock()
local score = fmt(now)
local n = 0
local m = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", score, "LIMIT", "0", ARGV[1])
for _, id in ipairs(m) do
  if transfer(KEYS[1], KEYS[2], KEYS[3], KEYS[4], id, score, true) then n = n + 1 end
end
if n > 0 then notify(ARGV[2], KEYS[3]) end
return n
