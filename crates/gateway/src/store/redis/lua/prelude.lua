-- The prelude of the redis backend's scripts: the scripts' answers and
-- the SMPP states by name, constants only. store/redis/scripts.rs writes
-- each of these names in the scripts as its number when it puts them
-- together (a chunk-level Lua local costs every call of a script an
-- upvalue; see scripts.rs), so the source reads by name and Redis runs
-- numbers. The functions scripts share are in fragments a script takes
-- only when it calls them (clock.lua, pending.lua, receipts.lua).
--
-- The answers below are checked against store/redis/codes.rs by a unit
-- test that reads this file: one `local NAME, ... = value, ...` line per
-- group, nothing else on the line.

-- submit.lua
local SUBMIT_OK, QUEUE_FULL, THROTTLED, NO_CREDIT, ALREADY_ACCEPTED = 0, 1, 2, 3, 4
-- cancel.lua
local NOT_FOUND, TOO_LATE, CANCELLED = 0, 1, 2
-- replace.lua (and NOT_FOUND, TOO_LATE above)
local REPLACED, REPLACE_RACED = 3, 4
-- apply() and receipt.lua: the first element of their answer
local R_HELD, R_DUPLICATE, R_INTERMEDIATE, R_PARTIAL, R_FINAL = 0, 1, 2, 3, 4
-- SMPP message_state values (smpp::MessageState): DELIVERED, and the
-- final states FINAL_FIRST..=FINAL_LAST (MessageState::is_final)
local DELIVERED, FINAL_FIRST, FINAL_LAST = 2, 2, 8
-- MessageState::Rejected (fail.lua: the upstream refused the submit)
local REJECTED = 8
-- store::EXPIRY_GRACE_MS: the most a message final after its retention
-- keeps its state from then (receipts.lua, keep_final)
local KEEP_AFTER_FINAL = 3600000
