-- notify(channel, zset): the realtime notification: the queue's size on its channel ("" =
-- realtime off).
local function notify(channel, zset)
  if channel ~= "" then redis.call("PUBLISH", channel, redis.call("ZCARD", zset)) end
end
