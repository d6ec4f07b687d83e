-- ARGV[A]: JSON {topics, calls: [{s, t, k, e, l?}], liaisons: [{i, t, s, since, c?}]}, made
-- consistent by the caller. Replaces the organisation's live state; keeps the wait history.
local snap = cjson.decode(ARGV[A])
for _, t in ipairs(TOPICS) do
  redis.call('DEL', queue_key(t, 'pro'), queue_key(t, 'cit'), free_key(t))
end
redis.call('DEL', KEYS[K_INDEX], KEYS[K_CALLS], KEYS[K_LIAISONS], KEYS[K_FREE], KEYS[K_PRESENCE])
for _, t in ipairs(snap.topics) do redis.call('SADD', KEYS[K_INDEX], t) end
bump_version()
for _, c in ipairs(snap.calls) do
  save(K_CALLS, c.s, {t = c.t, k = c.k, e = c.e, l = c.l})
  if not c.l and c.t then redis.call('ZADD', queue_key(c.t, c.k), c.e, c.s) end
end
for _, l in ipairs(snap.liaisons) do
  local rec = {t = l.t, c = l.c}
  set_status(rec, l.s, l.since)
  save(K_LIAISONS, l.i, rec)
  if l.s == 'available' then make_free(l.i, rec) end
end
return 1
