-- ARGV[A..]: mode ('set' | 'release'), liaison_id, status, now_ms, then
-- set: topics JSON, then the status it must have now ('' = any: the timer ends only a wrap-up);
-- refused while the liaison holds a call, 'moved' when the status is no longer the expected one.
-- release: the call that ended ('' = whatever the liaison holds); refused ('stale') if the
-- liaison does not hold that call, so a late event never ends the liaison's next call.
-- Returns {'ok' | 'refused' | 'stale' | 'unknown', status, call_sid or nil}.
local mode, lid, status, now = ARGV[A], ARGV[A + 1], ARGV[A + 2], tonumber(ARGV[A + 3])
local rec = load(K_LIAISONS, lid)
local ended = false
if mode == 'set' then
  if rec and rec.c then return {'refused', rec.s, rec.c} end
  local only_from = ARGV[A + 5] or ''
  if only_from ~= '' and not (rec and rec.s == only_from) then return {'moved', rec and rec.s or false, false} end
  local topics = cjson.decode(ARGV[A + 4])
  index_topics(topics)
  if rec then unfree(lid, rec) else rec = {} end
  rec.t = topics
else
  if not rec then return {'unknown', false, false} end
  local expected = ARGV[A + 4]
  if expected ~= '' and rec.c ~= expected then return {'stale', rec.s, rec.c or false} end
  if rec.c then
    local call = load(K_CALLS, rec.c)
    if call and call.l == tonumber(lid) then redis.call('HDEL', KEYS[K_CALLS], rec.c) end
    ended = rec.c
    rec.c = nil
  end
  unfree(lid, rec)
end
set_status(rec, status, now)
if status == 'available' then make_free(lid, rec) end
save(K_LIAISONS, lid, rec)
return {'ok', rec.s, ended}
