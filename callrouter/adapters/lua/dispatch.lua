-- ARGV[A..]: now_ms, widen_after_ms, citizen_promote_after_ms, history size, any-scan limit.
-- Claims pairs until none is possible; returns {{call_sid, liaison_id, topic, class, waited_ms}, ...}.
-- The reference implementation is callrouter.domain.queueing.plan_dispatch.
local now, widen, promote = tonumber(ARGV[A]), tonumber(ARGV[A + 1]), tonumber(ARGV[A + 2])
local cap, scan = tonumber(ARGV[A + 3]), tonumber(ARGV[A + 4])

local function before(a, b)
  if a.r ~= b.r then return a.r < b.r end
  if a.k ~= b.k then return a.k == 'pro' end
  return a.sid < b.sid
end

local function queue_heads()
  local list, demanded = {}, {}
  for _, t in ipairs(TOPICS) do
    for _, k in ipairs(CLASSES) do
      local h = redis.call('ZRANGE', queue_key(t, k), 0, 0, 'WITHSCORES')
      if h[1] then
        local e = tonumber(h[2])
        local head = {sid = h[1], t = t, k = k, e = e, w = (now - e >= widen)}
        head.r = e + (k == 'cit' and promote or 0)
        list[#list + 1] = head
        if t ~= '*' and not head.w then demanded[t] = true end
      end
    end
  end
  table.sort(list, before)
  return list, demanded
end

-- Longest idle, but not an expert whom a waiting, not yet widened call depends on.
local function pick_any(demanded)
  local ids = redis.call('ZRANGE', KEYS[K_FREE], 0, scan - 1)
  for _, id in ipairs(ids) do
    local rec = load(K_LIAISONS, id)
    local needed = false
    for _, t in ipairs(rec and rec.t or {}) do
      if demanded[t] then needed = true break end
    end
    if not needed then return id end
  end
  return ids[1]
end

local out = {}
while redis.call('ZCARD', KEYS[K_FREE]) > 0 do
  local list, demanded = queue_heads()
  local head, lid = nil, nil
  for _, h in ipairs(list) do
    if h.t ~= '*' then lid = redis.call('ZRANGE', free_key(h.t), 0, 0)[1] end
    if not lid and (h.t == '*' or h.w) then lid = pick_any(demanded) end
    if lid then head = h break end
  end
  if not head then break end
  local rec = load(K_LIAISONS, lid)
  if not rec then
    -- a free entry without a liaison record cannot be offered anything: drop it
    redis.call('ZREM', KEYS[K_FREE], lid)
    for _, t in ipairs(TOPICS) do redis.call('ZREM', free_key(t), lid) end
  else
    redis.call('ZREM', queue_key(head.t, head.k), head.sid)
    unfree(lid, rec)
    set_status(rec, 'busy', now)
    rec.c = head.sid
    save(K_LIAISONS, lid, rec)
    local call = load(K_CALLS, head.sid) or {t = head.t, k = head.k, e = head.e}
    call.l = tonumber(lid)
    save(K_CALLS, head.sid, call)
    local waited = math.max(0, now - head.e)
    redis.call('LPUSH', waits_key(head.t), waited)
    redis.call('LTRIM', waits_key(head.t), 0, cap - 1)
    redis.call('LPUSH', KEYS[K_CLAIMS], now)
    redis.call('LTRIM', KEYS[K_CLAIMS], 0, cap - 1)
    out[#out + 1] = {head.sid, tonumber(lid), head.t, head.k, waited}
  end
end
return out
