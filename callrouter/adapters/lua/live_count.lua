-- Wallboard: count one move of one call, once per metric per day, and keep the waiting index.
-- KEYS: 1 counts of the day (hash), 2 counted "sid|metric" of the day (set), 3 waiting calls (hash).
-- ARGV: 1 call sid, 2 dimensions "org|topic|location|kind", 3 ttl seconds of the day keys,
--       4 waiting JSON to add ('' = none), 5 '1' = the call left the queue, 6.. metrics.
-- Returns the number of metrics counted now (0 when every one was counted before).
local sid, dims, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local counted = 0
for i = 6, #ARGV do
  if redis.call('SADD', KEYS[2], sid .. '|' .. ARGV[i]) == 1 then
    redis.call('HINCRBY', KEYS[1], dims .. '|' .. ARGV[i], 1)
    counted = counted + 1
  end
end
if #ARGV >= 6 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
end
-- A call that left never waits again: a late or repeated enqueue does not bring it back.
if ARGV[5] == '1' then
  redis.call('HDEL', KEYS[3], sid)
  redis.call('SADD', KEYS[2], sid .. '|left')
  redis.call('EXPIRE', KEYS[2], ttl)
elseif ARGV[4] ~= '' and redis.call('SISMEMBER', KEYS[2], sid .. '|left') == 0 then
  redis.call('HSETNX', KEYS[3], sid, ARGV[4])
end
return counted
