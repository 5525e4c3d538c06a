-- next_due(zset, now): for a queue with nothing receivable at now (score units): {score
-- units until the next message is due}, or false for an empty queue.
--@include fmt
local function next_due(zset, now)
  local head = redis.call("ZRANGE", zset, "0", "0", "WITHSCORES")
  if head[2] == nil then return false end
  local wait = tonumber(head[2]) - now
  if not (wait > 0) then wait = 0 end
  if wait > 1e15 then wait = 1e15 end
  return {fmt(wait)}
end
