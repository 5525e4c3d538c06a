-- get_queue_attributes: the attributes and counters of a queue.
-- KEYS (2): [1] sorted set, [2] queue hash.
-- ARGV: none.
-- Returns {vt, delay, maxsize, totalrecv, totalsent, created, modified, msgs, hiddenmsgs,
-- the count of receivable messages, the id at the head (or false), now in ms}; or
-- QUEUE_NOT_FOUND.
--@include attributes
return attributes(KEYS[1], KEYS[2])
