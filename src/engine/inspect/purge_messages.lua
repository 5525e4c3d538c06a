-- purge_messages: one step of purge_queue over the sorted set. Removes the first (lowest
-- scored) members up to ARGV[2] of them, as long as their score is at most the horizon, and
-- their message fields ({id}, {id}:rc, {id}:fr; never an attribute field, whatever a member
-- is called). Members at the head are the cheapest to remove.
-- KEYS (2): [1] sorted set, [2] queue hash.
-- ARGV: [1] the horizon, a score ("" on the first step: the highest score now), [2] the
-- most members to remove.
-- Returns {horizon, members removed} (none removed: the purge of the sorted set is done);
-- or QUEUE_NOT_FOUND, writing nothing.
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return QUEUE_NOT_FOUND end
local horizon = ARGV[1]
if horizon == "" then
  local last = redis.call("ZRANGE", KEYS[1], "-1", "-1", "WITHSCORES")
  if last[2] == nil then return {"", 0} end
  horizon = last[2]
end
local members = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", horizon, "LIMIT", "0", ARGV[2])
if #members == 0 then return {horizon, 0} end
local attribute = {vt = true, delay = true, maxsize = true, created = true, modified = true,
  totalsent = true, totalrecv = true}
local fields = {}
for _, id in ipairs(members) do
  if not attribute[id] then fields[#fields + 1] = id end
  fields[#fields + 1] = id .. ":rc"
  fields[#fields + 1] = id .. ":fr"
end
redis.call("ZREM", KEYS[1], unpack(members))
redis.call("HDEL", KEYS[2], unpack(fields))
return {horizon, #members}
