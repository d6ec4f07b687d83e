-- Returns {waiting calls, oldest enqueue time or nil} over all queues of the organisation.
local count, oldest = 0, false
for _, t in ipairs(TOPICS) do
  for _, k in ipairs(CLASSES) do
    local key = queue_key(t, k)
    count = count + redis.call('ZCARD', key)
    local h = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if h[1] and (not oldest or tonumber(h[2]) < oldest) then oldest = tonumber(h[2]) end
  end
end
return {count, oldest}
