-- Renews the claims one process holds (adapters/redis_replay.py). KEYS: the requests' keys;
-- ARGV[1]: the claim's life in ms, ARGV[1 + i]: the holder's value of KEYS[i]. A key that holds another
-- value (a response, another's claim) is left alone. Returns how many were renewed.
local renewed = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1 + i] then
    redis.call('PEXPIRE', key, ARGV[1])
    renewed = renewed + 1
  end
end
return renewed
