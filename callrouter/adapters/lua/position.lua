-- ARGV[A..]: call_sid, citizen_promote_after_ms. Returns {position, size} or nil if not waiting.
-- Ahead of the call: everyone the same liaisons serve first: same topic and '*', both classes;
-- for a '*' call (anyone may take it) every queue of the organisation.
-- Equal rank in another queue of the same class counts as ahead (an honest, not a hopeful, place).
local sid, promote = ARGV[A], tonumber(ARGV[A + 1])
local call = load(K_CALLS, sid)
if not call or call.l or not call.t then return false end
local own = queue_key(call.t, call.k)
local ahead = redis.call('ZRANK', own, sid)
if not ahead then return false end
local r = call.e + (call.k == 'cit' and promote or 0)
local topics = {call.t}
if call.t == '*' then topics = TOPICS elseif TIDX['*'] then topics[2] = '*' end
local size = 0
for _, t in ipairs(topics) do
  for _, k in ipairs(CLASSES) do
    local key = queue_key(t, k)
    size = size + redis.call('ZCARD', key)
    if key ~= own then
      local bound = string.format('%d', r - (k == 'cit' and promote or 0))
      if k == 'cit' and call.k == 'pro' then bound = '(' .. bound end
      ahead = ahead + redis.call('ZCOUNT', key, '-inf', bound)
    end
  end
end
return {ahead + 1, size}
