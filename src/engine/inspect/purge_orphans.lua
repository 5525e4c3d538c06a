-- purge_orphans: one step of purge_queue over the queue hash, after purge_messages. Among
-- the fields one HSCAN call returns (about ARGV[2]), removes the message fields that no
-- member owns (left by a crashed writer that was not atomic). A message field is known by
-- its form (see message_id_of); every other field stays.
-- KEYS (2): [1] sorted set, [2] queue hash.
-- ARGV: [1] HSCAN cursor ("0" to start), [2] HSCAN count.
-- Returns {next cursor ("0": done), fields removed}; or QUEUE_NOT_FOUND, writing nothing.
--@include message_id_of
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return QUEUE_NOT_FOUND end
local scan = redis.call("HSCAN", KEYS[2], ARGV[1], "COUNT", ARGV[2])
local found = scan[2]
local drop = {}
for i = 1, #found, 2 do
  local id = message_id_of(found[i])
  if id and not redis.call("ZSCORE", KEYS[1], id) then drop[#drop + 1] = found[i] end
end
-- In slices: unpack stops near 8000 values, and HSCAN's count is only a hint.
for i = 1, #drop, 6000 do
  redis.call("HDEL", KEYS[2], unpack(drop, i, math.min(i + 5999, #drop)))
end
return {scan[1], #drop}
