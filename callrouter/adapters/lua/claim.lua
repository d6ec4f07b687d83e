-- ARGV[A..]: call_sid, liaison id, now_ms.
-- A liaison picks one waiting call (a callback taken from the console): claimed only if the call
-- still waits and the liaison is available. Returns 'ok', 'not_waiting' or 'not_available'.
local sid, lid, now = ARGV[A], ARGV[A + 1], tonumber(ARGV[A + 2])
local call = load(K_CALLS, sid)
if not call or call.l then return 'not_waiting' end
local rec = load(K_LIAISONS, lid)
if not rec or rec.s ~= 'available' then return 'not_available' end
redis.call('ZREM', queue_key(call.t, call.k), sid)
unfree(lid, rec)
set_status(rec, 'busy', now)
rec.c = sid
save(K_LIAISONS, lid, rec)
call.l = tonumber(lid)
save(K_CALLS, sid, call)
return 'ok'
