-- receive_message_batch: receives up to max messages and hides each for vt.
-- KEYS (2): [1] sorted set, [2] queue hash.
-- ARGV: [1] vt in score units ("" = the queue's), [2] max.
-- Returns {{id, body, rc, fr}...} (at most max; fewer when fewer are receivable or
-- body-less members were dropped); or QUEUE_NOT_FOUND, BAD_VT; or MORE (call again) when
-- every member it looked at was body-less.
local BODIES = true
--@include vt_from_argv
--@include receive_batch
