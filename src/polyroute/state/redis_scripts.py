"""The Lua scripts behind ``RedisStore``: each is one atomic step on the server."""

from __future__ import annotations

# A stored number must look like what INCRBYFLOAT or json.dumps wrote and be finite:
# Lua's tonumber alone would take "0x10", " 1", "inf" and "nan".
_NUM_FN = """
local function num(raw)
  if not raw then return 0 end
  local plain = string.match(raw, '^%-?%d+%.?%d*$')
  if not (plain or string.match(raw, '^%-?%d+%.?%d*[eE][-+]?%d+$')) then return nil end
  local n = tonumber(raw)
  if n == nil or n ~= n or n == math.huge or n == -math.huge then return nil end
  return n
end
"""
_NUM = _NUM_FN + """
local raw = redis.call('GET', KEYS[1])
local current = num(raw)
if current == nil then return redis.error_reply('POLYROUTE_CORRUPT ' .. string.sub(raw, 1, 60)) end
"""
# KEYS[1]; ARGV: amount, ttl in ms ("" for none). Creates with the TTL, keeps it after.
_INCR = _NUM + """
local value = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
if raw == false and ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value
"""
# KEYS[1]; ARGV: amount, limit, ttl in ms, floor ("" for none). Adds only if the sum
# stays <= limit; a current value below the floor is corrupt.
_RESERVE = _NUM + """
if ARGV[4] ~= '' and current < tonumber(ARGV[4]) then
  return redis.error_reply('POLYROUTE_CORRUPT ' .. string.sub(raw, 1, 60))
end
if current + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return 0 end
redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
if raw == false and ARGV[3] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
"""
# KEYS[1]; ARGV: expected JSON ("" = absent), new JSON ("" = delete), ttl in ms ("").
# Compares the stored text: polyroute writes json.dumps, and json.dumps of what
# json.loads read back is the same text (floats round-trip through repr).
_CAS = """
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if cur then return 0 end
elseif cur ~= ARGV[1] then
  return 0
end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
elseif ARGV[3] ~= '' then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1
"""
# bump_all: KEYS = counters, then sets, then the average's key (if any). ARGV: number
# of counters, number of sets, x and alpha ("" for no average), then amount and ttl in
# ms ("") per counter, then the JSON text per set. Returns each counter's new value
# ("" where the value is not a number: left alone), then "1"/"0": average folded.
_BUMP_ALL = _NUM_FN + """
-- a key of another type reads as corrupt (left alone), not as a script error that
-- would leave the writes before it done and the rest not
local function read(key)
  local raw = redis.pcall('GET', key)
  if type(raw) == 'table' and raw.err then return nil, true end
  return raw, false
end
local nc, ns = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for i = 1, nc do
  local raw, bad = read(KEYS[i])
  if bad or num(raw) == nil then
    out[i] = ''
  else
    out[i] = redis.call('INCRBYFLOAT', KEYS[i], ARGV[4 + 2 * i - 1])
    local ttl = ARGV[4 + 2 * i]
    if raw == false and ttl ~= '' then redis.call('PEXPIRE', KEYS[i], ttl) end
  end
end
for j = 1, ns do
  redis.call('SET', KEYS[nc + j], ARGV[4 + 2 * nc + j])
end
local folded = '1'
if ARGV[3] ~= '' then
  local key = KEYS[nc + ns + 1]
  local raw, bad = read(key)
  local x, alpha = tonumber(ARGV[3]), tonumber(ARGV[4])
  local prev = (not bad) and num(raw) or nil
  if raw == false and not bad then
    redis.call('SET', key, ARGV[3])
  elseif prev == nil or prev < 0 then
    folded = '0'
  else
    redis.call('SET', key, string.format('%.17g', alpha * x + (1 - alpha) * prev))
  end
end
out[nc + 1] = folded
return out
"""
# reserve_sliding: KEYS = current window, previous window; ARGV: amount, limit, carry,
# ttl in ms (""). The previous count must be a JSON number >= 0 (Python's json grammar,
# strictly); else returns {-1}: the caller reads it the slow way and refuses it.
# Otherwise {1 or 0, previous count or ""}; the reservation is _RESERVE's with floor 0.
_SLIDING_HEAD = """
local function jsonnum(s)
  local rest = string.match(s, '^%-?0(.*)$') or string.match(s, '^%-?[1-9]%d*(.*)$')
  if rest == nil then return nil end
  rest = string.match(rest, '^%.%d+(.*)$') or rest
  rest = string.match(rest, '^[eE][-+]?%d+(.*)$') or rest
  if rest ~= '' then return nil end
  local n = tonumber(s)
  if n == nil or n ~= n or n == math.huge or n == -math.huge then return nil end
  return n
end
local praw = redis.call('GET', KEYS[2])
local prev = 0
if praw then
  prev = jsonnum(praw)
  if prev == nil or prev < 0 then return {-1} end
end
""" + _NUM + """
if current < 0 then
  return redis.error_reply('POLYROUTE_CORRUPT ' .. string.sub(raw, 1, 60))
end
"""
_SLIDING = _SLIDING_HEAD + """
local limit = tonumber(ARGV[2]) - prev * tonumber(ARGV[3])
if current + tonumber(ARGV[1]) > limit then return {0, praw or ''} end
redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
if raw == false and ARGV[4] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return {1, praw or ''}
"""
# lease: KEYS[1]; ARGV: need, want, limit, ttl in ms (""), floor (""). Reserves at
# least ``need`` (else 0, nothing added), at most ``want``, and no more than an
# eighth of the room left, so near the limit leases shrink to what a call needs and
# other processes keep room. Returns the amount reserved.
_LEASE = _NUM + """
if ARGV[5] ~= '' and current < tonumber(ARGV[5]) then
  return redis.error_reply('POLYROUTE_CORRUPT ' .. string.sub(raw, 1, 60))
end
local need, want = tonumber(ARGV[1]), tonumber(ARGV[2])
local room = tonumber(ARGV[3]) - current
if room < need then return '0' end
local grant = math.min(want, math.max(need, room / 8))
redis.call('INCRBYFLOAT', KEYS[1], string.format('%.17g', grant))
if raw == false and ARGV[4] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return string.format('%.17g', grant)
"""
# reserve_sliding as a lease: ARGV: need, want, limit, carry, ttl in ms (""). Reserves
# at least ``need`` (else {"0", prev}), at most ``want`` and an eighth of the room
# left, as _LEASE; returns {amount reserved, previous count or ""}; {-1} as above.
_SLIDING_LEASE = _SLIDING_HEAD + """
local need, want = tonumber(ARGV[1]), tonumber(ARGV[2])
local room = tonumber(ARGV[3]) - prev * tonumber(ARGV[4]) - current
if room < need then return {'0', praw or ''} end
local grant = string.format('%.17g', math.min(want, math.max(need, room / 8)))
redis.call('INCRBYFLOAT', KEYS[1], grant)
if raw == false and ARGV[5] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return {grant, praw or ''}
"""
