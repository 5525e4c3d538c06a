-- deliver(zset, hash, id, body, score, ms): hides message id until score and counts the
-- receive. Returns the reply {id, body, rc, fr}.
--@include count_receive
local function deliver(zset, hash, id, body, score, ms)
  redis.call("ZADD", zset, score, id)
  local rc, fr = count_receive(hash, id, ms, true)
  return {id, body, rc, fr}
end
