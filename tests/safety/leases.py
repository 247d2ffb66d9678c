"""The Redis store of the campaign, with leases that expire on the campaign's fake clock.

Redis expires a lease on the server's real clock (``SET … PX``), while everything else in the
campaign runs on the fake clock. With real expiry, what a step sees depends on how fast the
machine is: a cycle lease whose release was lost to an injected fault kept its cycle locked for
the rest of an example on a fast machine (15 s of real time, no watcher tick) and lapsed half-way
through it on a loaded one — the same example then took different paths. Here a lease is the
holder and its expiry on the fake clock, in the same Redis key, under the same atomic
compare-and-set, so expiry depends only on the steps taken — as on SQLite, whose leases use the
injected clock. Everything else is the real Redis store (its own lease scripts are covered by the
store conformance tests)."""

from __future__ import annotations

from typing import Any

from interlock_plugins.stores.redis import RedisStore
from interlock_plugins.stores.redis.client import translate_errors

# KEYS[1] the lease key; ARGV: owner, ttl (ms, 0 = none), now (fake clock, ms). Value "<expiry ms>|<owner>".
ACQUIRE = """
local held = redis.call('GET', KEYS[1])
if held then
  local sep = string.find(held, '|', 1, true)
  local expiry = tonumber(string.sub(held, 1, sep - 1))
  local holder = string.sub(held, sep + 1)
  if holder ~= ARGV[1] and (expiry == 0 or expiry > tonumber(ARGV[3])) then return 0 end
end
local ttl = tonumber(ARGV[2])
local expiry = 0
if ttl > 0 then expiry = tonumber(ARGV[3]) + ttl end
redis.call('SET', KEYS[1], string.format('%d', expiry) .. '|' .. ARGV[1])
return 1
"""

# KEYS[1] the lease key; ARGV: owner ('' for any), now (ms). Returns the live holder, deleting it
# when ARGV[1] names it; nil when there is none.
HOLDER = """
local held = redis.call('GET', KEYS[1])
if not held then return false end
local sep = string.find(held, '|', 1, true)
local expiry = tonumber(string.sub(held, 1, sep - 1))
local holder = string.sub(held, sep + 1)
if expiry ~= 0 and expiry <= tonumber(ARGV[2]) then return false end
if ARGV[1] ~= '' and holder == ARGV[1] then redis.call('DEL', KEYS[1]) end
return holder
"""


class FakeTimeLeaseRedisStore(RedisStore):
    """:class:`RedisStore` whose leases expire on its (fake) clock instead of Redis's real one."""

    def _now_ms(self) -> int:
        return int(self.clock.now().timestamp() * 1000)

    def _script(self, source: str) -> Any:
        scripts: dict[str, Any] = self.__dict__.setdefault("_fake_lease_scripts", {})
        if source not in scripts:
            scripts[source] = self._redis.register_script(source)
        return scripts[source]

    @translate_errors
    async def acquire_lease(self, key: str, owner: str, ttl: float) -> bool:
        ttl_ms = max(0, int(ttl * 1000)) if ttl and ttl > 0 else 0
        return bool(await self._script(ACQUIRE)([self.keys.lease(key)], [owner, ttl_ms, self._now_ms()]))

    @translate_errors
    async def release_lease(self, key: str, owner: str) -> bool:
        holder = await self._script(HOLDER)([self.keys.lease(key)], [owner, self._now_ms()])
        return _text(holder) == owner

    @translate_errors
    async def lease_owner(self, key: str) -> str | None:
        holder = await self._script(HOLDER)([self.keys.lease(key)], ["", self._now_ms()])
        return _text(holder)


def _text(value: object) -> str | None:
    if value is None or value is False:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
