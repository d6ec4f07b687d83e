-- Gives up one's own replay claim (adapters/redis_replay.py): KEYS[1] deleted only if it holds ARGV[1].
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
