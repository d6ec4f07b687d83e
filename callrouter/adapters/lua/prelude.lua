-- Shared head of every router script (redis_router.py prepends it).
-- KEYS, as redis_keys.org_layout builds them: 1 topic index, 2 its version, 3 calls, 4 liaisons,
-- 5 free liaisons, 6 presence counts, 7 claim times; then for each topic in ARGV order:
-- queue pro, queue cit, free liaisons of the topic, recent waits of the topic.
-- ARGV: 1 index version the caller saw, 2 number of topics n, 3..2+n topics, then the script's own.
local K_INDEX, K_VER, K_CALLS, K_LIAISONS, K_FREE, K_PRESENCE, K_CLAIMS = 1, 2, 3, 4, 5, 6, 7
local FIXED, PER_TOPIC = 7, 4
local NT = tonumber(ARGV[2])
local TOPICS, TIDX = {}, {}
for i = 1, NT do
  TOPICS[i] = ARGV[2 + i]
  TIDX[ARGV[2 + i]] = i
end
local A = 3 + NT
local CLASSES = {'pro', 'cit'}

-- The caller's topic list must cover the index, or some queue would go unseen: refuse, it retries.
if (redis.call('GET', KEYS[K_VER]) or '0') ~= ARGV[1] then
  return redis.error_reply('STALE topic index')
end

local function topic_key(t, slot)
  local i = TIDX[t]
  if not i then error('topic not in the key layout: ' .. tostring(t)) end
  return KEYS[FIXED + (i - 1) * PER_TOPIC + slot]
end
local function queue_key(t, k) return topic_key(t, k == 'pro' and 1 or 2) end
local function free_key(t) return topic_key(t, 3) end
local function waits_key(t) return topic_key(t, 4) end

local function now_or_server_time(arg)
  if arg and arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function bump_version()
  if redis.call('EXISTS', KEYS[K_VER]) == 0 then
    -- start from the clock, so a cache from before a FLUSHDB never matches by accident
    local t = redis.call('TIME')
    redis.call('SET', KEYS[K_VER], t[1] .. string.format('%06d', tonumber(t[2])))
  end
  redis.call('INCR', KEYS[K_VER])
end

local function index_topics(list)
  local added = 0
  for _, t in ipairs(list) do
    topic_key(t, 1)
    added = added + redis.call('SADD', KEYS[K_INDEX], t)
  end
  if added > 0 then bump_version() end
end

local function load(hash, id)
  local raw = redis.call('HGET', KEYS[hash], id)
  if raw then return cjson.decode(raw) end
  return nil
end
local function save(hash, id, rec) redis.call('HSET', KEYS[hash], id, cjson.encode(rec)) end

local function set_status(rec, status, now)
  if rec.s == status then return end
  if rec.s then redis.call('HINCRBY', KEYS[K_PRESENCE], rec.s, -1) end
  redis.call('HINCRBY', KEYS[K_PRESENCE], status, 1)
  rec.s = status
  rec.since = now
end

local function unfree(id, rec)
  redis.call('ZREM', KEYS[K_FREE], id)
  for _, t in ipairs(rec.t or {}) do redis.call('ZREM', free_key(t), id) end
end

local function make_free(id, rec)
  redis.call('ZADD', KEYS[K_FREE], rec.since, id)
  for _, t in ipairs(rec.t or {}) do redis.call('ZADD', free_key(t), rec.since, id) end
end
