-- One wrong PIN on a backoff bucket (domain/pin_limits.py): count it, close the bucket for its wait.
-- KEYS[1] the bucket hash; ARGV: now (Unix s), free, base s, cap s, memory s. Returns the closing time.
local now, free, base, cap, memory = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
                                     tonumber(ARGV[4]), tonumber(ARGV[5])
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local wait = 0
if n >= free then wait = math.min(base * 2 ^ math.min(n - free, 64), cap) end
local closed_until = now + wait
redis.call('HSET', KEYS[1], 'until', string.format('%.3f', closed_until))
redis.call('EXPIRE', KEYS[1], math.ceil(wait + memory))
return string.format('%.3f', closed_until)
