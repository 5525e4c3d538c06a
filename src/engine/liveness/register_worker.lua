-- register_worker: a running worker says it is alive. Sets the worker's entry in the
-- liveness hash to its description, stamped with the Redis time: when it is to be counted
-- gone unless it registers again (expires), now (seen), and when it first registered
-- (started, kept from its earlier entry). Removes the entries that expired; keeps the
-- hash itself until its last entry expires.
-- KEYS (1): [1] liveness hash ({ns}:.workers).
-- ARGV: [1] worker id, [2] time to live in milliseconds, [3] the rest of the entry
-- (space-separated name=value pairs without spaces).
-- Returns the number of live workers.
--@include clock
--@include fmt
local _, _, now = clock()
local expires = now + tonumber(ARGV[2])
local earlier = redis.call("HGET", KEYS[1], ARGV[1])
local started = earlier and string.match(earlier, "started=(%d+)") or fmt(now)
redis.call("HSET", KEYS[1], ARGV[1],
  "expires=" .. fmt(expires) .. " seen=" .. fmt(now) .. " started=" .. started .. " " .. ARGV[3])
local all = redis.call("HGETALL", KEYS[1])
local live, last = 0, expires
for i = 1, #all, 2 do
  local at = tonumber(string.match(all[i + 1], "expires=(%d+)"))
  if at == nil or at <= now then
    redis.call("HDEL", KEYS[1], all[i])
  else
    live = live + 1
    if at > last then last = at end
  end
end
redis.call("PEXPIRE", KEYS[1], fmt(last - now))
return live
