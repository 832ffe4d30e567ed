"""The Lua script behind :class:`~agora_recording.redis.RedisRateLimiter`: reserve, confirm, cancel and hold.

One script, so each operation is atomic on the Redis server and reads the server's clock (``TIME``); the proof that
it never grants more than ``n`` in a window is in :mod:`agora_recording.redis._limiter`'s docstring.
"""

__all__ = ["SCRIPT"]

# One script, four modes. KEYS: log, hold. ARGV: mode, n, window_us, member, extend_us.
# Numbers are written with %d: Redis turns a Lua number into a string with 14 significant digits, too few for
# microseconds since the epoch. Replies are integers (Redis truncates Lua numbers), in microseconds.
SCRIPT = """
local log, holdkey = KEYS[1], KEYS[2]
local mode = ARGV[1]
local n = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local member = ARGV[4]
local extend = tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local hold = tonumber(redis.call('GET', holdkey) or '0')
if extend > 0 and now + extend > hold then
  hold = now + extend
  redis.call('SET', holdkey, string.format('%d', hold), 'PX', math.ceil(extend / 1000) + 10)
end
local function book()
  redis.call('ZREMRANGEBYSCORE', log, '-inf', string.format('%d', now - window))
  local at = math.max(now, hold)
  local count = redis.call('ZCARD', log)
  if count >= n then
    local nth = redis.call('ZRANGE', log, count - n, count - n, 'WITHSCORES')
    at = math.max(at, tonumber(nth[2]) + window)
  end
  if count > 0 then
    local last = redis.call('ZRANGE', log, -1, -1, 'WITHSCORES')
    at = math.max(at, tonumber(last[2]))
  end
  redis.call('ZADD', log, string.format('%d', at), member)
  redis.call('PEXPIRE', log, math.ceil((at - now + window) / 1000) + 10)
  return at
end
if mode == 'r' then
  local at = book()
  return {at - now, at, now}
elseif mode == 'c' then
  local s = redis.call('ZSCORE', log, member)
  if s then
    s = tonumber(s)
    if hold <= s then
      if s <= now then
        return {0, s, now}
      end
      return {s - now, s, now}
    end
    redis.call('ZREM', log, member)
  end
  local at = book()
  return {at - now, at, now}
elseif mode == 'x' then
  local s = redis.call('ZSCORE', log, member)
  if s and tonumber(s) > now then
    redis.call('ZREM', log, member)
    return {1, tonumber(s), now}
  end
  return {0, 0, now}
end
return {0, hold, now}
"""
