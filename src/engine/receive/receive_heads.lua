-- receive_heads: receive_message_batch without the bodies, which the caller reads with a
-- plain HMGET next (large bodies cost Redis far more inside Lua than outside).
-- KEYS (2): [1] sorted set, [2] queue hash.
-- ARGV: [1] vt in score units ("" = the queue's), [2] max.
-- Returns {{id, rc, fr}...}; or QUEUE_NOT_FOUND, BAD_VT; or MORE (call again) when every
-- member it looked at was body-less.
local BODIES = false
--@include vt_from_argv
--@include receive_batch
