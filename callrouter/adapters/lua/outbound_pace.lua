-- Reserve the next slot for an outbound call: at most one per ARGV[1] microseconds across every process.
-- KEYS[1] the next free slot (Redis server time, microseconds). Returns the wait in microseconds (0: now).
local gap = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, free)
local ttl_ms = math.floor((slot - now + gap) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', slot + gap), 'PX', ttl_ms)
return slot - now
