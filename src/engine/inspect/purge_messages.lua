-- purge_messages: one step of purge_queue over the sorted set. Removes the members one
-- ZSCAN call returns (about ARGV[2]) and their message fields ({id}, {id}:rc, {id}:fr;
-- never an attribute field, whatever a member is called).
-- KEYS (2): [1] sorted set, [2] queue hash.
-- ARGV: [1] ZSCAN cursor ("0" to start), [2] ZSCAN count.
-- Returns {next cursor ("0": done), members removed}; or QUEUE_NOT_FOUND, writing nothing.
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return QUEUE_NOT_FOUND end
local attribute = {vt = true, delay = true, maxsize = true, created = true, modified = true,
  totalsent = true, totalrecv = true}
local scan = redis.call("ZSCAN", KEYS[1], ARGV[1], "COUNT", ARGV[2])
local found = scan[2]
local members, fields = {}, {}
for i = 1, #found, 2 do
  local id = found[i]
  members[#members + 1] = id
  if not attribute[id] then fields[#fields + 1] = id end
  fields[#fields + 1] = id .. ":rc"
  fields[#fields + 1] = id .. ":fr"
end
-- In slices: unpack stops near 8000 values, and ZSCAN's count is only a hint.
local removed = 0
for i = 1, #members, 2000 do
  removed = removed + redis.call("ZREM", KEYS[1], unpack(members, i, math.min(i + 1999, #members)))
end
for i = 1, #fields, 6000 do
  redis.call("HDEL", KEYS[2], unpack(fields, i, math.min(i + 5999, #fields)))
end
return {scan[1], removed}
