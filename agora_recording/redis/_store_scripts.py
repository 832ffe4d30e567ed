"""The Lua scripts of :class:`~agora_recording.redis.RedisSessionStore`: one script per read-then-write.

Every script runs atomically on the Redis server (and on its clock: leases are ``PEXPIRE``), so two workers never
both win a claim. Kept apart from the store so each reads in one sitting.
"""

__all__ = ["CLAIM", "CLAIM_ORPHANS", "DELETE", "PRELUDE", "PUT", "RECORDS", "RELEASE", "RELEASE_OWNER"]

# ----------------------------------------------------------------------------------------------- Lua scripts
# ARGV[1] is always the key prefix "{ns}:". KEYS[1] is the main key each script touches (declared for routing);
# the other keys are derived from the prefix and hash to the same slot through the {ns} tag.

PRELUDE = """
local P = ARGV[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function alive(owner)
  return redis.call('EXISTS', P .. 'lease:' .. owner) == 1
end
local function renew(owner, ms)
  local lk = P .. 'lease:' .. owner
  if redis.call('PTTL', lk) < ms then
    redis.call('SET', lk, '1', 'PX', ms)
  end
end
local function disown(owner, key)
  local ok = P .. 'o:' .. owner
  redis.call('SREM', ok, key)
  if redis.call('SCARD', ok) == 0 then
    redis.call('SREM', P .. 'owners', owner)
  end
end
local function adopt(owner, key)
  redis.call('SADD', P .. 'o:' .. owner, key)
  redis.call('SADD', P .. 'owners', owner)
end
"""

# ARGV: prefix, key, owner, data, expected ('' = none), lease_ms. -> {'ok', rev, ts} | {'owner', o} | {'conflict', r}
PUT = (
    PRELUDE
    + """
local rk, key, owner, expected = KEYS[1], ARGV[2], ARGV[3], ARGV[5]
local cur = redis.call('HMGET', rk, 'owner', 'rev')
local rev
if not cur[2] then
  if expected ~= '' and tonumber(expected) ~= 0 then return {'conflict', 0} end
  rev = 1
  redis.call('SADD', P .. 'keys', key)
  adopt(owner, key)
else
  if cur[1] ~= owner then return {'owner', cur[1]} end
  if expected ~= '' and tonumber(expected) ~= tonumber(cur[2]) then return {'conflict', tonumber(cur[2])} end
  rev = tonumber(cur[2]) + 1
end
local ts = now_ms()
redis.call('HSET', rk, 'owner', owner, 'data', ARGV[4], 'rev', rev, 'ts', ts)
renew(owner, tonumber(ARGV[6]))
return {'ok', rev, ts}
"""
)

# ARGV: prefix, key, owner. -> {'ok'} | {'absent'} | {'owner', o}
DELETE = (
    PRELUDE
    + """
local rk, key, owner = KEYS[1], ARGV[2], ARGV[3]
local o = redis.call('HGET', rk, 'owner')
if not o then return {'absent'} end
if o ~= owner then return {'owner', o} end
redis.call('DEL', rk)
redis.call('SREM', P .. 'keys', key)
disown(owner, key)
return {'ok'}
"""
)

# ARGV: prefix, key, owner. -> {'ok', rev, ts, data} | {'absent'} | {'owner', o}
RELEASE = (
    PRELUDE
    + """
local rk, key, owner = KEYS[1], ARGV[2], ARGV[3]
local cur = redis.call('HMGET', rk, 'owner', 'rev', 'data')
if not cur[2] then return {'absent'} end
if cur[1] ~= owner then return {'owner', cur[1]} end
local rev, ts = tonumber(cur[2]) + 1, now_ms()
redis.call('HSET', rk, 'owner', '', 'rev', rev, 'ts', ts)
disown(owner, key)
return {'ok', rev, ts, cur[3]}
"""
)

# KEYS[1] = {ns}:o:<owner>; ARGV: prefix, owner. -> {ts, key1, rev1, data1, key2, ...}
RELEASE_OWNER = (
    PRELUDE
    + """
local ok, owner = KEYS[1], ARGV[2]
local ts = now_ms()
local out = {ts}
for _, key in ipairs(redis.call('SMEMBERS', ok)) do
  local rk = P .. 's:' .. key
  local cur = redis.call('HMGET', rk, 'owner', 'rev', 'data')
  if cur[1] == owner then
    local rev = tonumber(cur[2]) + 1
    redis.call('HSET', rk, 'owner', '', 'rev', rev, 'ts', ts)
    out[#out + 1] = key
    out[#out + 1] = rev
    out[#out + 1] = cur[3]
  end
end
redis.call('DEL', ok, P .. 'lease:' .. owner)
redis.call('SREM', P .. 'owners', owner)
return out
"""
)

# ARGV: prefix, key, owner, lease_ms. -> {'ok', rev, ts, data} | {'absent'} | {'owner', o}
CLAIM = (
    PRELUDE
    + """
local rk, key, owner, ms = KEYS[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local cur = redis.call('HMGET', rk, 'owner', 'rev', 'data', 'ts')
if not cur[2] then return {'absent'} end
local previous = cur[1]
if previous == owner then
  renew(owner, ms)
  return {'ok', tonumber(cur[2]), tonumber(cur[4]), cur[3]}
end
if previous ~= '' and alive(previous) then return {'owner', previous} end
local rev, ts = tonumber(cur[2]) + 1, now_ms()
redis.call('HSET', rk, 'owner', owner, 'rev', rev, 'ts', ts)
if previous ~= '' then disown(previous, key) end
adopt(owner, key)
renew(owner, ms)
return {'ok', rev, ts, cur[3]}
"""
)

# KEYS[1] = {ns}:owners; ARGV: prefix, owner, lease_ms, limit (0: none). -> {ts, key1, rev1, data1, ...}
CLAIM_ORPHANS = (
    PRELUDE
    + """
local owner, ms, limit = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
renew(owner, ms)
local ts = now_ms()
local out = {ts}
local n = 0
for _, dead in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if limit > 0 and n >= limit then break end
  if dead ~= owner and not alive(dead) then
    local ok = P .. 'o:' .. dead
    for _, key in ipairs(redis.call('SMEMBERS', ok)) do
      if limit > 0 and n >= limit then break end
      local rk = P .. 's:' .. key
      local cur = redis.call('HMGET', rk, 'owner', 'rev', 'data')
      if cur[1] == dead then
        local rev = tonumber(cur[2]) + 1
        redis.call('HSET', rk, 'owner', owner, 'rev', rev, 'ts', ts)
        redis.call('SADD', P .. 'o:' .. owner, key)
        n = n + 1
        out[#out + 1] = key
        out[#out + 1] = rev
        out[#out + 1] = cur[3]
      end
      redis.call('SREM', ok, key)
    end
    if redis.call('SCARD', ok) == 0 then redis.call('SREM', KEYS[1], dead) end
  end
end
if n > 0 then redis.call('SADD', KEYS[1], owner) end
return out
"""
)

# KEYS[1] = {ns}:keys or {ns}:o:<owner>; ARGV: prefix, owner ('' = all). -> {key1, owner1, rev1, ts1, data1, ...}
# Fields go back as stored (a missing one is false, so positions never shift); Python parses and checks them.
RECORDS = (
    PRELUDE
    + """
local owner = ARGV[2]
local out = {}
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local cur = redis.call('HMGET', P .. 's:' .. key, 'owner', 'rev', 'ts', 'data')
  if cur[2] and (owner == '' or cur[1] == owner) then
    out[#out + 1] = key
    out[#out + 1] = cur[1]
    out[#out + 1] = cur[2]
    out[#out + 1] = cur[3]
    out[#out + 1] = cur[4]
  end
end
return out
"""
)
