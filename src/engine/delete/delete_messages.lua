-- delete_messages: the coalesced delete: concurrent deletes on one queue from one client,
-- in one call. Like every delete, it does not check that the queue exists.
-- KEYS (2): [1] sorted set, [2] queue hash.
-- ARGV: the ids.
-- Returns per id 1 when the message was there, else 0 (a repeated id: 1 the first time).
local out = {}
for i = 1, #ARGV do
  local id = ARGV[i]
  local z = redis.call("ZREM", KEYS[1], id)
  local h = redis.call("HDEL", KEYS[2], id, id .. ":rc", id .. ":fr")
  if z == 1 and h > 0 then out[i] = 1 else out[i] = 0 end
end
return out
