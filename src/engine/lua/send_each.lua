-- Inline code (not a function): the coalesced sends, each message failing alone. With
-- STORED (a constant the including script sets) the bodies are in the hash already, under
-- ids made from the time in ARGV[2]; without, they come in ARGV and the ids are made here
-- from TIME.
-- ARGV: [1] realtime channel ("" = none); with STORED [2] the time the ids were made from,
-- in score units; then per message three values: with STORED its id, its body's length,
-- its delay; without, its id suffix, its body, its delay (delay in score units, "" = the
-- queue's).
-- Returns per message its id, or MESSAGE_TOO_LONG or BAD_DELAY for that message alone; or
-- one code for all: QUEUE_NOT_FOUND, BAD_MAXSIZE. With STORED, every body of a message
-- that is not sent is removed again, also when adding to the sorted set fails (the error
-- is returned).
--@include clock
--@include stored_duration
--@include b36
--@include fmt
local first = STORED and 3 or 2
local n = (#ARGV - first + 1) / 3
local q = redis.call("HMGET", KEYS[2], "vt", "delay", "maxsize")
local maxsize = tonumber(q[3])
local out, zadd, hset, drop, k = {}, {}, {}, {}, 0
if not q[1] or maxsize == nil then
  if STORED then
    for i = 1, n do drop[i] = ARGV[3 * i] end
    redis.call("HDEL", KEYS[2], unpack(drop))
  end
  if not q[1] then return QUEUE_NOT_FOUND end
  return BAD_MAXSIZE
end
local now, base
if STORED then
  now = tonumber(ARGV[2])
else
  local sec, t, _, usec = clock()
  now, base = t, sec * 1000000 + usec
end
local qdelay
for i = 1, n do
  local a, b, delay = ARGV[first + 3 * i - 3], ARGV[first + 3 * i - 2], ARGV[first + 3 * i - 1]
  if delay == "" then
    if qdelay == nil then qdelay = stored_duration(q[2]) or false end
    delay = qdelay
  else
    delay = tonumber(delay)
  end
  local len
  if STORED then len = tonumber(b) else len = #b end
  if maxsize ~= -1 and len > maxsize then
    out[i] = MESSAGE_TOO_LONG
    if STORED then drop[#drop + 1] = a end
  elseif not delay then
    out[i] = BAD_DELAY
    if STORED then drop[#drop + 1] = a end
  else
    local id = a
    if not STORED then
      id = b36(base + i - 1) .. a
      hset[2 * k + 1] = id
      hset[2 * k + 2] = b
    end
    out[i] = id
    zadd[2 * k + 1] = fmt(now + delay)
    zadd[2 * k + 2] = id
    k = k + 1
  end
end
if #drop > 0 then redis.call("HDEL", KEYS[2], unpack(drop)) end
if k > 0 then
  if STORED then
    local added = redis.pcall("ZADD", KEYS[1], unpack(zadd))
    if type(added) == "table" and added.err then
      for i = 1, n do drop[i] = ARGV[3 * i] end
      redis.call("HDEL", KEYS[2], unpack(drop, 1, n))
      return added
    end
  else
    redis.call("ZADD", KEYS[1], unpack(zadd))
    redis.call("HSET", KEYS[2], unpack(hset))
  end
  redis.call("HINCRBY", KEYS[2], "totalsent", fmt(k))
  if ARGV[1] ~= "" then
    local total = redis.call("ZCARD", KEYS[1])
    for j = 1, k do redis.call("PUBLISH", ARGV[1], fmt(total - k + j)) end
  end
end
return out
