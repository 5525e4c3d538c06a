-- send_messages: the coalesced send: concurrent sends to one queue from one client, in one
-- call, each failing alone. Ids get increasing time parts, in input order. With realtime,
-- one PUBLISH per message, as single sends would make.
-- KEYS (2): [1] sorted set, [2] queue hash.
-- ARGV: [1] realtime channel ("" = none), then per message its id suffix (22 random
-- characters), its body and its delay in score units ("" = the queue's).
-- Returns per message its id, or MESSAGE_TOO_LONG or BAD_DELAY for that message alone; or
-- one code for all: QUEUE_NOT_FOUND, BAD_MAXSIZE.
local STORED = false
--@include send_each
