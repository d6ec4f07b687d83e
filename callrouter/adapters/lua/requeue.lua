-- ARGV[A..]: call_sid, liaison_id, now_ms ('' = server time). The liaison did not answer:
-- the call goes back with its original enqueue time, the liaison is set away. Returns {requeued, set_away}.
local sid, lid, now = ARGV[A], ARGV[A + 1], now_or_server_time(ARGV[A + 2])
local requeued, away = 0, 0
local call = load(K_CALLS, sid)
if call and call.l == tonumber(lid) and call.t then
  call.l = nil
  save(K_CALLS, sid, call)
  redis.call('ZADD', queue_key(call.t, call.k), call.e, sid)
  requeued = 1
end
local rec = load(K_LIAISONS, lid)
if rec and rec.c == sid then
  rec.c = nil
  unfree(lid, rec)
  set_status(rec, 'away', now)
  save(K_LIAISONS, lid, rec)
  away = 1
end
return {requeued, away}
