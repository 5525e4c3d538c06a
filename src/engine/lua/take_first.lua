-- Inline code (not a function) shared by receive and pop, run once the queue is known to
-- exist. Finds the first receivable message that has a body, dropping body-less members on
-- the way (left by a crashed writer that was not atomic) so they never block the queue; one
-- HMGET reads body, rc and fr together. Counts the receive in totalrecv.
-- Defines: `id`; `f`, {body, rc, fr} as stored; `rc`, the receive count after this
-- receive; `now_s` and `ms_s`, now in score units and in milliseconds, as text.
-- Returns from the script when nothing is receivable: {score units until the next message
-- is due}, or false for an empty queue; MORE after dropping 100 body-less members (the
-- caller calls again).
--@include clock_s
--@include next_due
--@include drop_orphan
local now_s, ms_s = clock_s()
local id, f
for _ = 1, 100 do
  local m = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", now_s, "LIMIT", "0", "1")
  if #m == 0 then return next_due(KEYS[1], tonumber(now_s)) end
  f = redis.call("HMGET", KEYS[2], m[1], m[1] .. ":rc", m[1] .. ":fr")
  if f[1] then
    id = m[1]
    break
  end
  drop_orphan(KEYS[1], KEYS[2], m[1])
end
if not id then return MORE end
local rc = 1
if f[2] then rc = (tonumber(f[2]) or 0) + 1 end
redis.call("HINCRBY", KEYS[2], "totalrecv", "1")
