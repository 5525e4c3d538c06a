-- transfer(src_z, src_h, dst_z, dst_h, id, score, reset): moves message id from one queue
-- to another, visible at score, with its body, rc and fr (rc and fr dropped when reset). A
-- member without a body is only removed. The destination is written first: when it fails
-- (a sorted set of the wrong type), nothing has been written. Returns whether a message
-- landed in the destination.
local function transfer(src_z, src_h, dst_z, dst_h, id, score, reset)
  local f = redis.call("HMGET", src_h, id, id .. ":rc", id .. ":fr")
  if f[1] then
    redis.call("ZADD", dst_z, score, id)
    redis.call("HSET", dst_h, id, f[1])
    if f[2] and not reset then redis.call("HSET", dst_h, id .. ":rc", f[2]) end
    if f[3] and not reset then redis.call("HSET", dst_h, id .. ":fr", f[3]) end
    redis.call("HINCRBY", dst_h, "totalsent", "1")
  end
  redis.call("ZREM", src_z, id)
  redis.call("HDEL", src_h, id, id .. ":rc", id .. ":fr")
  return f[1] ~= false
end
