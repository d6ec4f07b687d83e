-- ARGV[A]: JSON {topics, calls: [{s, t, k, e, l?}], liaisons: [{i, t, s, since, c?}]}, made
-- consistent by the caller. Replaces the organisation's live state; keeps the wait history.
-- A liaison's status set in Redis after the caller read the snapshot from SQL (a liaison clicked "available"
-- while the rebuild ran: its `since` is not older) is kept, so the rebuild does not undo it; busy never is.
local snap = cjson.decode(ARGV[A])
local newer = {}
for _, l in ipairs(snap.liaisons) do
  local live = load(K_LIAISONS, l.i)
  if live and not l.c and not live.c and live.s and live.s ~= 'busy'
      and tonumber(live.since or 0) >= tonumber(l.since) then
    newer[l.i] = live
  end
end
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
  local rec, status, since = {t = l.t, c = l.c}, l.s, l.since
  if newer[l.i] then status, since = newer[l.i].s, newer[l.i].since end
  set_status(rec, status, since)
  save(K_LIAISONS, l.i, rec)
  if status == 'available' then make_free(l.i, rec) end
end
return 1
