"""The Lua scripts of the ``redis`` store: every read-check-write that must be atomic.

Each script touches one key, or keys of one cluster slot (a ``{<pipelineId>}`` hash tag), so it
runs unchanged on Redis Cluster. TTLs are milliseconds; ``0`` means "no expiry".
"""

from __future__ import annotations

# Write a versioned record (run, run log, rerun) on a condition, optionally indexing it.
#
# KEYS[1]  the record key
# KEYS[2]  optional: an index zset in the same slot
# ARGV[1]  mode: "create" (only if absent), "cas" (only if stored version == ARGV[2]), "put"
# ARGV[2]  expected version (mode "cas")
# ARGV[3]  the new record JSON
# ARGV[4]  record TTL ms (0 = none)
# ARGV[5]  index score, ARGV[6] index member, ARGV[7] entries the index keeps, ARGV[8] index TTL ms
#
# Returns 1 when written, 0 when the condition failed.
WRITE_RECORD = """
local current = redis.call('GET', KEYS[1])
local mode = ARGV[1]
if mode == 'create' then
  if current then return 0 end
elseif mode == 'cas' then
  if not current then return 0 end
  local ok, stored = pcall(cjson.decode, current)
  if not ok or type(stored) ~= 'table' then return 0 end
  local version = tonumber(stored['version'])
  if version == nil or version ~= tonumber(ARGV[2]) then return 0 end
end
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[3])
end
if KEYS[2] then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[6])
  local keep = tonumber(ARGV[7])
  if keep > 0 then
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(keep + 1))
  end
  local index_ttl = tonumber(ARGV[8])
  if index_ttl > 0 then
    redis.call('PEXPIRE', KEYS[2], index_ttl)
  else
    redis.call('PERSIST', KEYS[2])
  end
end
return 1
"""

# Take a lease if free, or renew it if the caller already holds it.
#
# KEYS[1]  the lease key; ARGV[1] owner token; ARGV[2] TTL ms (0 = none)
# Returns 1 when the caller holds the lease afterwards, 0 when someone else does.
ACQUIRE_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
"""

# Release a lease only if the caller holds it.
#
# KEYS[1]  the lease key; ARGV[1] owner token
# Returns 1 when released, 0 otherwise.
RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

# Append an event to a pipeline's stream, trimmed by length and by age.
#
# KEYS[1]  the stream; ARGV[1] approximate max length; ARGV[2] retention ms (0 = keep);
# ARGV[3] event kind; ARGV[4] event JSON
# Returns the new stream id (the event's cursor). Age is measured on the server's clock, the
# same clock that stamps stream ids.
APPEND_EVENT = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'kind', ARGV[3], 'data', ARGV[4])
local retention = tonumber(ARGV[2])
if retention > 0 then
  local now = redis.call('TIME')
  local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  local oldest = now_ms - retention
  if oldest > 0 then
    redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%d-0', oldest))
  end
  redis.call('PEXPIRE', KEYS[1], retention)
end
return id
"""

# Record that a source pipeline completed a cycle; the first write of a source wins.
#
# KEYS[1]  the cycle's cascade hash; ARGV[1] source; ARGV[2] marker JSON; ARGV[3] TTL ms (0 = none)
# Returns 1 when the marker is new, 0 when it already existed (its TTL is refreshed either way).
WRITE_CASCADE_MARKER = """
local added = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return added
"""

# --------------------------------------------------------------------------------- alert outbox
# The event append of APPEND_EVENT as a function, for the scripts that write an event with alerts.
_APPEND_EVENT_FUNCTION = """
local function append_event(stream, maxlen, retention, kind, data)
  local id = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'kind', kind, 'data', data)
  local retention_ms = tonumber(retention)
  if retention_ms > 0 then
    local now = redis.call('TIME')
    local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
    local oldest = now_ms - retention_ms
    if oldest > 0 then
      redis.call('XTRIM', stream, 'MINID', '~', string.format('%d-0', oldest))
    end
    redis.call('PEXPIRE', stream, retention_ms)
  end
  return id
end
"""

# Take an "alert once" claim, append the event that raised the alerts, put the alerts in the outbox.
#
# KEYS[1]  the claim's lease key          KEYS[2]  the pipeline's event stream
# KEYS[3]  the index of every record id   then per record: its key, its status index, its sink's pending index
# ARGV[1]  "1" to take the claim, ARGV[2] the claim's owner, ARGV[3] its TTL ms (0 = none)
# ARGV[4]  "1" to append the event, ARGV[5] stream max length, ARGV[6] retention ms, ARGV[7] kind, ARGV[8] JSON
# ARGV[9]  the number of records, then per record: id, JSON, status, TTL ms
# Returns nil when the claim is held (nothing written), else {1, <event stream id or "">}.
RECORD_ALERTS = _APPEND_EVENT_FUNCTION + """
if ARGV[1] == '1' then
  local ttl = tonumber(ARGV[3])
  local taken
  if ttl > 0 then
    taken = redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ttl)
  else
    taken = redis.call('SET', KEYS[1], ARGV[2], 'NX')
  end
  if not taken then return false end
end
local cursor = ''
if ARGV[4] == '1' then
  cursor = append_event(KEYS[2], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
end
for i = 0, tonumber(ARGV[9]) - 1 do
  local k = 4 + 3 * i
  local a = 10 + 4 * i
  local ttl = tonumber(ARGV[a + 3])
  local written
  if ttl > 0 then
    written = redis.call('SET', KEYS[k], ARGV[a + 1], 'NX', 'PX', ttl)
  else
    written = redis.call('SET', KEYS[k], ARGV[a + 1], 'NX')
  end
  if written then
    redis.call('ZADD', KEYS[3], 0, ARGV[a])
    redis.call('ZADD', KEYS[k + 1], 0, ARGV[a])
    if ARGV[a + 2] == 'pending' then redis.call('ZADD', KEYS[k + 2], 0, ARGV[a]) end
  end
end
return {1, cursor}
"""

# Replace an outbox record if its stored version is the expected one, move it between the status
# indexes, drop index entries past the retention (ids start with their creation time), and
# append an event in the same step.
#
# KEYS[1] the record; KEYS[2] every id; KEYS[3..6] the pending, delivered, failed, grouped indexes;
# KEYS[7] the sink's pending index; KEYS[8] the pipeline's event stream
# ARGV[1] expected version, ARGV[2] JSON, ARGV[3] new status, ARGV[4] record TTL ms (0 = none),
# ARGV[5] id, ARGV[6] the oldest id kept in the indexes ("" = all), ARGV[7] "1" to append the
# event, ARGV[8] stream max length, ARGV[9] retention ms, ARGV[10] kind, ARGV[11] event JSON
# Returns 1 when written, 0 when the version did not match.
CAS_ALERT = _APPEND_EVENT_FUNCTION + """
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local ok, stored = pcall(cjson.decode, current)
if not ok or type(stored) ~= 'table' then return 0 end
if tonumber(stored['version']) ~= tonumber(ARGV[1]) then return 0 end
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[2])
end
local statuses = {pending = KEYS[3], delivered = KEYS[4], failed = KEYS[5], grouped = KEYS[6]}
for name, key in pairs(statuses) do
  if name == ARGV[3] then
    redis.call('ZADD', key, 0, ARGV[5])
  else
    redis.call('ZREM', key, ARGV[5])
  end
end
if ARGV[3] == 'pending' then
  redis.call('ZADD', KEYS[7], 0, ARGV[5])
else
  redis.call('ZREM', KEYS[7], ARGV[5])
end
redis.call('ZADD', KEYS[2], 0, ARGV[5])
if ARGV[6] ~= '' then
  for _, key in ipairs({KEYS[2], KEYS[4], KEYS[5], KEYS[6]}) do
    redis.call('ZREMRANGEBYLEX', key, '-', '(' .. ARGV[6])
  end
end
if ARGV[7] == '1' then
  append_event(KEYS[8], ARGV[8], ARGV[9], ARGV[10], ARGV[11])
end
return 1
"""

# ------------------------------------------------------------------------------------- batches
# The unit-of-work commit (``batches``): trait rows, events with their alerts and claims,
# the readiness cache, in one script. Every key is in KEYS; ARGV[1] is the plan (JSON) naming
# them by index:
#   {"owner": claim owner, "maxlen": stream max length, "retention": ms, "all": index of every alert id,
#    "traits": [{"k": key, "set": trait set, "type": trait type, "json": row, "ttl": ms, "after": instant or ""}],
#    "events": [{"stream": key, "kind": kind, "json": event, "claim": {"k": key, "ttl": ms} or null,
#                "alerts": [{"k": key, "status_k": index, "pending_k": index, "id": id, "json": record,
#                            "status": status, "ttl": ms}]}],
#    "readiness": {"k": key, "json": result, "ttl": ms} or null}
# "after" is an instant as YYYY-MM-DDTHH:MM:SS.ffffff (UTC): a stored row with source "pushed"
# evaluated after it is left as it is.
# Returns {skipped trait types, per event 1 when its alerts were kept (claim taken or none) else 0}.
COMMIT = _APPEND_EVENT_FUNCTION + """
local plan = cjson.decode(ARGV[1])
local function instant(text)
  if type(text) ~= 'string' then return nil end
  local base, frac = string.match(text, '^(%d+%-%d+%-%d+T%d+:%d+:%d+)%.?(%d*)Z$')
  if not base then return nil end
  return base .. '.' .. frac .. string.rep('0', 6 - #frac)
end
local function set(key, value, ttl, nx)
  local ms = tonumber(ttl)
  if nx and ms > 0 then return redis.call('SET', key, value, 'NX', 'PX', ms) end
  if nx then return redis.call('SET', key, value, 'NX') end
  if ms > 0 then return redis.call('SET', key, value, 'PX', ms) end
  return redis.call('SET', key, value)
end
local skipped = {}
for _, t in ipairs(plan['traits']) do
  local write = true
  if t['after'] ~= '' then
    local current = redis.call('GET', KEYS[t['k']])
    if current then
      local ok, stored = pcall(cjson.decode, current)
      if ok and type(stored) == 'table' and stored['source'] == 'pushed' then
        local at = instant(stored['evaluatedAt'])
        if at and at > t['after'] then write = false end
      end
    end
  end
  if write then
    set(KEYS[t['k']], t['json'], t['ttl'], false)
    redis.call('SADD', KEYS[t['set']], t['type'])
  else
    table.insert(skipped, t['type'])
  end
end
local claimed = {}
for _, e in ipairs(plan['events']) do
  local taken = true
  if e['claim'] ~= cjson.null then
    taken = set(KEYS[e['claim']['k']], plan['owner'], e['claim']['ttl'], true) and true or false
  end
  append_event(KEYS[e['stream']], plan['maxlen'], plan['retention'], e['kind'], e['json'])
  if taken then
    for _, a in ipairs(e['alerts']) do
      if set(KEYS[a['k']], a['json'], a['ttl'], true) then
        redis.call('ZADD', KEYS[plan['all']], 0, a['id'])
        redis.call('ZADD', KEYS[a['status_k']], 0, a['id'])
        if a['status'] == 'pending' then redis.call('ZADD', KEYS[a['pending_k']], 0, a['id']) end
      end
    end
    table.insert(claimed, 1)
  else
    table.insert(claimed, 0)
  end
end
local r = plan['readiness']
if r ~= cjson.null then set(KEYS[r['k']], r['json'], r['ttl'], false) end
return {skipped, claimed}
"""

# One pipeline's trait rows, readiness cache and run logs of the cycles asked for, in one step.
#
# KEYS[1]  the pipeline's trait set; KEYS[2] its readiness key ("": not read); KEYS[3..] the run logs asked for
# ARGV[1]  the prefix of the pipeline's trait keys (a member is escaped as ``keys.escape``)
# Returns {trait types, their rows (false when expired), the readiness row or false, the run logs}.
READ_PIPELINE = """
local function esc(part)
  return (string.gsub(part, '[%%:{}]', {['%'] = '%25', [':'] = '%3A', ['{'] = '%7B', ['}'] = '%7D'}))
end
local types = redis.call('SMEMBERS', KEYS[1])
local rows = {}
for i, member in ipairs(types) do
  rows[i] = redis.call('GET', ARGV[1] .. esc(member))
end
local logs = {}
for i = 3, #KEYS do logs[i - 2] = redis.call('GET', KEYS[i]) end
local cached = false
if KEYS[2] ~= '' then cached = redis.call('GET', KEYS[2]) end
if #ARGV < 2 then return {types, rows, cached, logs} end
local config, version = false, false
if ARGV[2] ~= '' then
  local raw = redis.call('HGET', ARGV[2], ARGV[3])
  if raw then
    version = redis.sha1hex(raw)
    if version ~= ARGV[4] then config = raw end
  end
end
local reruns, latest, runs = {}, false, {}
local wanted = tonumber(ARGV[5])
local function newest(index, prefix, count, into)
  local start = 0
  while #into < count do
    local members = redis.call('ZREVRANGE', index, start, start + 49)
    if #members == 0 then return end
    start = start + #members
    for _, member in ipairs(members) do
      local raw = redis.call('GET', prefix .. esc(member))
      if raw then
        into[#into + 1] = raw
        if #into >= count then return end
      end
    end
    if #members < 50 then return end
  end
end
if wanted > 0 then
  newest(ARGV[6], ARGV[8], wanted, reruns)
  local found = {}
  newest(ARGV[7], ARGV[9], 1, found)
  if #found > 0 then latest = found[1] end
  local cycles, named, seen = {}, {}, {}
  for i = 10, #ARGV do cycles[ARGV[i]] = true end
  for i = 1, #KEYS - 2 do
    if logs[i] then
      local id = cjson.decode(logs[i])['runId']
      if type(id) == 'string' then named[#named + 1] = id end
    end
  end
  for _, raw in ipairs(reruns) do
    local rerun = cjson.decode(raw)
    local schedule = rerun['scheduleId']
    if type(schedule) ~= 'string' or schedule == '' then schedule = 'daily' end
    local id = rerun['rerunRunId']
    if type(id) == 'string' and type(rerun['originalDate']) == 'string'
        and cycles[rerun['originalDate'] .. '\\n' .. schedule] then
      named[#named + 1] = id
    end
  end
  for _, id in ipairs(named) do
    if not seen[id] then
      seen[id] = true
      local raw = redis.call('GET', ARGV[9] .. esc(id))
      if raw then runs[#runs + 1] = raw end
    end
  end
end
return {types, rows, cached, logs, config, version, reruns, latest, runs}
"""
