"""The Lua scripts of :mod:`rewardkit.redis_groups`: every change of a group is one of them,
atomic in Redis. Field names and rules: that module's docstring."""

from __future__ import annotations

__all__ = ["SCRIPTS"]

# Shared by the scripts that read leases: Redis's clock in ms, and the removal of an open
# group's members whose lease ran out before ``now`` (their fields go, as when a member leaves).
_LEASES = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function purge(h, now)
  local fields, stale, drop, gone = redis.call('HGETALL', h), {}, {}, 0
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 2) == 'l:' and tonumber(fields[i + 1]) < now then
      stale[string.sub(fields[i], 3)] = true
    end
  end
  for i = 1, #fields, 2 do
    local kind, rest = string.sub(fields[i], 1, 2), string.sub(fields[i], 3)
    if ((kind == 't:' or kind == 'c:') and stale[fields[i + 1]])
        or ((kind == 's:' or kind == 'w:' or kind == 'l:') and stale[rest]) then
      table.insert(drop, fields[i])
      if kind == 's:' then gone = gone + 1 end
    end
  end
  if gone > 0 then
    redis.call('HDEL', h, unpack(drop))
    redis.call('HINCRBY', h, 'live', -gone)
  end
  return gone
end
"""

# KEYS[1]: the key's generation counter. ARGV: token, nonce, member, size, expiry, lock (ms),
# lease end (ms, Redis's clock). A join that Redis runs after its lease end adds nothing.
_JOIN = (
    _LEASES
    + """
local base, now, lease = KEYS[1], now_ms(), tonumber(ARGV[7])
if lease < now then return {-1, -1, 'stale'} end
local gen = tonumber(redis.call('GET', base) or '0')
for g = gen, math.max(gen - 1, 0), -1 do
  local h = base .. ':' .. g
  local slot = redis.call('HGET', h, 't:' .. ARGV[1])
  if slot then
    if lease > tonumber(redis.call('HGET', h, 'l:' .. slot) or '0') then
      redis.call('HSET', h, 'l:' .. slot, lease)
    end
    if redis.call('HSETNX', h, 'c:' .. ARGV[2], slot) == 0 then
      return {g, tonumber(slot), 'mine'}
    end
    redis.call('HINCRBY', h, 'w:' .. slot, 1)
    return {g, tonumber(slot), 'again', redis.call('HGET', h, 's:' .. slot)}
  end
end
local h = base .. ':' .. gen
local slot = redis.call('HINCRBY', h, 'n', 1) - 1
redis.call('HSET', h, 's:' .. slot, ARGV[3], 't:' .. ARGV[1], slot, 'w:' .. slot, 1,
           'c:' .. ARGV[2], slot, 'l:' .. slot, lease)
local live = redis.call('HINCRBY', h, 'live', 1)
redis.call('PEXPIRE', h, ARGV[5])
local status, closed = 'wait', redis.call('HEXISTS', h, 'cut') == 1
if not closed and live >= tonumber(ARGV[4]) then live = live - purge(h, now) end
if closed then
  status = 'late'
  if live >= tonumber(ARGV[4]) then redis.call('INCR', base) end
elseif live >= tonumber(ARGV[4]) then
  status = 'complete'
  redis.call('HSET', h, 'cut', slot + 1)
  redis.call('SET', h .. ':lock', ARGV[2], 'PX', ARGV[6])
  redis.call('INCR', base)
end
redis.call('PEXPIRE', base, ARGV[5])
return {gen, slot, status}
"""
)

# KEYS: group, lock. ARGV: slot, nonce, timed out (0/1), lock (ms), lease end (ms). The members
# a closer or a late member rewards come back as slot, member, ... after the status and flag.
# In an open group the poll renews its member's lease - unless it ran out: then the member is
# removed ('stale'), as are all others whose lease ran out before the group closes.
_WAIT = (
    _LEASES
    + """
local function reply(status, limit)
  local out, fields = {}, redis.call('HGETALL', KEYS[1])
  for i = 1, #fields, 2 do
    local s = string.sub(fields[i], 1, 2) == 's:' and tonumber(string.sub(fields[i], 3))
    if s and s < limit then table.insert(out, {s, fields[i + 1]}) end
  end
  table.sort(out, function(x, y) return x[1] < y[1] end)
  local flat = {status, redis.call('HGET', KEYS[1], 'partial') or '0'}
  for _, m in ipairs(out) do table.insert(flat, m[1]); table.insert(flat, m[2]) end
  return flat
end
local slot = tonumber(ARGV[1])
if redis.call('HEXISTS', KEYS[1], 's:' .. slot) == 0 then return {'gone'} end
local cut = redis.call('HGET', KEYS[1], 'cut')
if cut and slot >= tonumber(cut) then return reply('late', slot + 1) end
local r = redis.call('HGET', KEYS[1], 'result')
if r then return {'result', r} end
if cut then
  local owner = redis.call('GET', KEYS[2])
  if owner and owner ~= ARGV[2] then return {'wait'} end
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
  if owner then return reply('closer', tonumber(cut)) end
  return reply('takeover', tonumber(cut))
end
local now, lease = now_ms(), tonumber(ARGV[5])
local held = tonumber(redis.call('HGET', KEYS[1], 'l:' .. slot) or '0')
if held < now then
  purge(KEYS[1], now)
  return {'stale'}
end
if lease > held then redis.call('HSET', KEYS[1], 'l:' .. slot, lease) end
if ARGV[3] ~= '1' then return {'wait'} end
purge(KEYS[1], now)
local n = tonumber(redis.call('HGET', KEYS[1], 'n'))
redis.call('HSET', KEYS[1], 'cut', n, 'partial', '1')
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
return reply('close', n)
"""
)

# KEYS: group, lock. ARGV: result, nonce, expiry (ms). The first result stays; the counter lives
# as long as its groups (a reset counter would send a new member into an old group).
_PUBLISH = """
local r = redis.call('HGET', KEYS[1], 'result')
if r then return r end
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'result', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', string.match(KEYS[1], '^(.*):%d+$'), ARGV[3])
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
return ARGV[1]
"""

# KEYS: the key's generation counter. ARGV: token, nonce. The request's group is found by its
# nonce (its join's reply may never have come). 1 removed, 2 another request waits on the
# member, 0 kept (its group is closed), 3 not there.
_LEAVE = """
local gen = tonumber(redis.call('GET', KEYS[1]) or '0')
for g = gen, math.max(gen - 1, 0), -1 do
  local h = KEYS[1] .. ':' .. g
  local slot = redis.call('HGET', h, 'c:' .. ARGV[2])
  if slot then
    if redis.call('HEXISTS', h, 'cut') == 1 then return 0 end
    redis.call('HDEL', h, 'c:' .. ARGV[2])
    if redis.call('HINCRBY', h, 'w:' .. slot, -1) > 0 then return 2 end
    redis.call('HDEL', h, 's:' .. slot, 't:' .. ARGV[1], 'w:' .. slot, 'l:' .. slot)
    redis.call('HINCRBY', h, 'live', -1)
    return 1
  end
end
return 3
"""

SCRIPTS = {"join": _JOIN, "wait": _WAIT, "publish": _PUBLISH, "leave": _LEAVE}
