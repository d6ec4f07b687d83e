-- ARGV[A..]: call_sid, topic, class, enqueued_at_ms. Returns 1 if added, 0 if already known.
local sid, t, k, e = ARGV[A], ARGV[A + 1], ARGV[A + 2], tonumber(ARGV[A + 3])
if redis.call('HEXISTS', KEYS[K_CALLS], sid) == 1 then return 0 end
index_topics({t})
save(K_CALLS, sid, {t = t, k = k, e = e})
redis.call('ZADD', queue_key(t, k), e, sid)
return 1
