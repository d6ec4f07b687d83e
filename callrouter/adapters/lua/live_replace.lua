-- Wallboard rebuild: replace one organisation's counts of a day and its waiting calls.
-- KEYS: 1 counts of the day, 2 counted set of the day, 3 waiting calls.
-- ARGV: 1 ttl seconds, 2 JSON {counts: {field: n}, waiting: {sid: json}}.
-- The counted set is emptied: the calls behind the rebuilt counts only move on through SQL state
-- changes that happen once (see services/wallboard.py), so nothing is counted twice.
local ttl, data = tonumber(ARGV[1]), cjson.decode(ARGV[2])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
for field, n in pairs(data.counts) do redis.call('HSET', KEYS[1], field, n) end
redis.call('EXPIRE', KEYS[1], ttl)
for sid, raw in pairs(data.waiting) do redis.call('HSET', KEYS[3], sid, raw) end
return 1
