-- Wallboard: bring the waiting index in line with SQL (the reconciler, every few seconds).
-- KEYS: 1 waiting calls. ARGV: 1 ms: entries queued before it and absent from SQL are removed,
-- 2 JSON {sid: json} of the calls SQL says wait. Returns {added, removed}.
local before, want = tonumber(ARGV[1]), cjson.decode(ARGV[2])
local added, removed = 0, 0
for sid, raw in pairs(want) do added = added + redis.call('HSETNX', KEYS[1], sid, raw) end
local have = redis.call('HGETALL', KEYS[1])
for i = 1, #have, 2 do
  local sid = have[i]
  if not want[sid] then
    local entry = cjson.decode(have[i + 1])
    if tonumber(entry.q) < before then
      removed = removed + redis.call('HDEL', KEYS[1], sid)
    end
  end
end
return {added, removed}
