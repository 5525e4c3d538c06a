-- drop_orphan(zset, hash, id): drops a sorted-set member that has no body (left by a crashed
-- writer that was not atomic) and its counters.
local function drop_orphan(zset, hash, id)
  redis.call("ZREM", zset, id)
  redis.call("HDEL", hash, id .. ":rc", id .. ":fr")
end
