-- ARGV[A..]: call_sid, now_ms ('' = server time). The caller hung up.
-- Returns {was_queued, freed liaison id or nil}.
local sid, now = ARGV[A], now_or_server_time(ARGV[A + 1])
local call = load(K_CALLS, sid)
if not call then return {0, false} end
redis.call('HDEL', KEYS[K_CALLS], sid)
if not call.l then
  local removed = 0
  if call.t then removed = redis.call('ZREM', queue_key(call.t, call.k), sid) end
  return {removed, false}
end
local lid = tostring(call.l)
local rec = load(K_LIAISONS, lid)
if rec and rec.c == sid then
  rec.c = nil
  set_status(rec, 'available', now)
  make_free(lid, rec)
  save(K_LIAISONS, lid, rec)
  return {0, call.l}
end
return {0, false}
