-- count_receive(hash, id, ms, write_fr): counts a receive of message id in its rc, and on
-- the first receive writes its fr (ms: now in milliseconds, as text) when write_fr. Returns
-- rc, fr.
local function count_receive(hash, id, ms, write_fr)
  local rc = redis.call("HINCRBY", hash, id .. ":rc", "1")
  if rc == 1 then
    if write_fr then redis.call("HSET", hash, id .. ":fr", ms) end
    return rc, ms
  end
  return rc, redis.call("HGET", hash, id .. ":fr")
end
