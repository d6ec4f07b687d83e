-- The replay guard's claim (adapters/redis_replay.py). KEYS[1]: the request's key.
-- ARGV[1]: '0' .. the claimant's token, ARGV[2]: the claim's life in ms.
-- Returns 1 when claimed (first delivery, or a dead holder's claim expired), else the key's value:
-- '1' .. the first delivery's response, or '0' .. a living holder's token.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return redis.call('GET', KEYS[1]) or 0
