-- Inline code (not a function) that opens the receive scripts. Checks that the queue exists
-- and sets `vt`, the visibility timeout in score units: ARGV[1], or the queue's when that
-- is "". Returns QUEUE_NOT_FOUND or BAD_VT from the script.
--@include stored_duration
local vt = redis.call("HGET", KEYS[2], "vt")
if not vt then return QUEUE_NOT_FOUND end
if ARGV[1] == "" then
  vt = stored_duration(vt)
  if vt == nil then return BAD_VT end
else
  vt = tonumber(ARGV[1])
end
