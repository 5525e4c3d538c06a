-- attributes(zset, hash): what get_queue_attributes returns: {vt, delay, maxsize,
-- totalrecv, totalsent, created, modified, msgs, hiddenmsgs, the count of receivable
-- messages, the id at the head (or false), now in ms}; or QUEUE_NOT_FOUND.
--@include clock
--@include fmt
local function attributes(zset, hash)
  local sec, now, ms = clock()
  local a = redis.call("HMGET", hash, "vt", "delay", "maxsize", "totalrecv", "totalsent", "created", "modified")
  if not a[1] then return QUEUE_NOT_FOUND end
  a[8] = redis.call("ZCARD", zset)
  a[9] = redis.call("ZCOUNT", zset, fmt(sec * UNITS), "+inf")
  a[10] = redis.call("ZCOUNT", zset, "-inf", fmt(now))
  a[11] = redis.call("ZRANGE", zset, "0", "0")[1] or false
  a[12] = ms
  return a
end
