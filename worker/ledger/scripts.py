"""The Lua scripts that make every ledger transition one atomic step."""

TRANSITION_SCRIPT = """
local request = cjson.decode(ARGV[1])
local record = KEYS[1]
local orders = KEYS[2]
local by_state = {}
for i, name in ipairs(request.states) do by_state[name] = KEYS[i + 2] end
local submitted_since = KEYS[#request.states + 3]
local install_waiting = KEYS[#request.states + 4]

local current = redis.call('HGET', record, 'state') or ''
local allowed = false
for _, name in ipairs(request.from) do
  if name == current then allowed = true end
end
if not allowed then return {'conflict', current, '', ''} end
local target = request.to
if target == '' then target = current end

local function check(guards)
  for field, wanted in pairs(guards) do
    local recorded = redis.call('HGET', record, field)
    if recorded and recorded ~= '' and recorded ~= wanted then
      return {'conflict', current, field, recorded}
    end
  end
  return nil
end
local refused = check(request.guard)
if refused then return refused end
if current == target then
  refused = check(request.guard_same)
  if refused then return refused end
end

if request.archive_alternative_id then
  local old = redis.call('HGET', record, 'alternative_order_id')
  if old and old ~= '' then
    local history = cjson.decode(
      redis.call('HGET', record, 'previous_alternative_order_ids') or '[]')
    table.insert(history, old)
    redis.call('HSET', record, 'previous_alternative_order_ids',
      cjson.encode(history))
  end
end
if request.drop_order then
  local order_id = redis.call('HGET', record, 'order_id')
  if order_id and order_id ~= '' then redis.call('HDEL', orders, order_id) end
end
for _, field in ipairs(request.delete) do redis.call('HDEL', record, field) end
for field, value in pairs(request.set) do redis.call('HSET', record, field, value) end
for field, amount in pairs(request.incr) do
  redis.call('HINCRBY', record, field, amount)
end
if request.remember_state_in ~= '' and current ~= target then
  redis.call('HSET', record, request.remember_state_in, current)
end
redis.call('HSET', record, 'state', target)

if current ~= '' and current ~= target then
  redis.call('ZREM', by_state[current], request.thumbprint)
end
redis.call('ZADD', by_state[target], request.score, request.thumbprint)
if target == 'submitted' and request.submitted_score ~= '' then
  redis.call('ZADD', submitted_since, request.submitted_score, request.thumbprint)
elseif current == 'submitted' and target ~= 'submitted' then
  redis.call('ZREM', submitted_since, request.thumbprint)
end
local function waits(state) return state == 'submitted' or state == 'issued' end
if request.install_after_score ~= '' then
  redis.call('ZADD', install_waiting, request.install_after_score, request.thumbprint)
elseif waits(current) and not waits(target) then
  redis.call('ZREM', install_waiting, request.thumbprint)
end
if request.index_order ~= '' then
  redis.call('HSET', orders, request.index_order, request.thumbprint)
end
return {'ok', current, redis.call('HGETALL', record)}
"""

# Deletes a record and every index entry of it. KEYS as above; ARGV[1] the
# thumbprint, ARGV[2] the state it must be in ("" = any), ARGV[3] the latest
# change time it may have (for pruning; "" = any). Returns 1 when deleted.
FORGET_SCRIPT = """
local record = KEYS[1]
local state = redis.call('HGET', record, 'state')
if not state then
  for i = 3, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
  return 0
end
if ARGV[2] ~= '' and state ~= ARGV[2] then return 0 end
if ARGV[3] ~= '' then
  local changed = tonumber(redis.call('HGET', record, 'updated_score') or '0')
  if changed > tonumber(ARGV[3]) then return 0 end
end
local order_id = redis.call('HGET', record, 'order_id')
if order_id and order_id ~= '' then
  if redis.call('HGET', KEYS[2], order_id) == ARGV[1] then
    redis.call('HDEL', KEYS[2], order_id)
  end
end
redis.call('DEL', record)
for i = 3, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
return 1
"""
