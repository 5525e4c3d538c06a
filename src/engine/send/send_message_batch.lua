-- send_message_batch: sends several messages, all or nothing.
-- KEYS (2): [1] sorted set, [2] queue hash.
-- ARGV: [1] delay in score units ("" = the queue's), [2] realtime channel ("" = none), then
-- per message an id suffix (22 random characters) and a body.
-- Message i (from 0) gets the id b36(T + i) .. suffix_i, T being the Redis time in
-- microseconds: time parts increase by 1 µs each, so the ids sort and are received in
-- input order.
-- Returns {T} (the caller makes the same ids; returning them would cost Redis more than
-- all of their arithmetic); or QUEUE_NOT_FOUND, BAD_MAXSIZE, MESSAGE_TOO_LONG, BAD_DELAY,
-- writing nothing. Checks every body before writing any.
--@include stored_duration
--@include clock
--@include b36
--@include fmt
--@include notify
local q = redis.call("HMGET", KEYS[2], "vt", "delay", "maxsize")
if not q[1] then return QUEUE_NOT_FOUND end
local maxsize = tonumber(q[3])
if maxsize == nil then return BAD_MAXSIZE end
local n = (#ARGV - 2) / 2
if maxsize ~= -1 then
  for i = 1, n do
    if #ARGV[2 + 2 * i] > maxsize then return MESSAGE_TOO_LONG end
  end
end
local delay
if ARGV[1] == "" then
  delay = stored_duration(q[2])
  if delay == nil then return BAD_DELAY end
else
  delay = tonumber(ARGV[1])
end
local sec, now, ms, usec = clock()
local base = sec * 1000000 + usec
local score = fmt(now + delay)
-- Message i's time part is base + i - 1 in base 36: the high digits change only every
-- 1296 µs, so they are computed once per change and the last two digits per message.
local zadd, hset = {}, {}
local high, high_s
for i = 1, n do
  local t = base + i - 1
  local low = t % 1296
  local h = (t - low) / 1296
  if h ~= high then
    high, high_s = h, string.sub(b36(h), 3)
  end
  local d1 = low % 36
  local d0 = (low - d1) / 36
  local id = high_s .. string.char(d0 < 10 and d0 + 48 or d0 + 87, d1 < 10 and d1 + 48 or d1 + 87)
    .. ARGV[1 + 2 * i]
  zadd[2 * i - 1] = score
  zadd[2 * i] = id
  hset[2 * i - 1] = id
  hset[2 * i] = ARGV[2 + 2 * i]
end
redis.call("ZADD", KEYS[1], unpack(zadd))
redis.call("HSET", KEYS[2], unpack(hset))
redis.call("HINCRBY", KEYS[2], "totalsent", fmt(n))
notify(ARGV[2], KEYS[1])
return {base}
