"""Redis store operations per second against a raw redis-py baseline doing the same work.

For each operation the store's call is timed against the minimal raw commands a hand-written
client would send for the same effect, on the same connection pool settings and concurrency
(32 concurrent tasks), in the same run, alternating turns:

* ``put_trait``   — store: JSON of the evaluation, SET with PX, SADD to the pipeline's trait set
  (one pipeline round trip); raw: ``SET key value PX ttl``;
* ``get_trait``   — store: GET + decode into a ``TraitEvaluation``; raw: ``GET`` + ``json.loads``;
* ``cas_run``     — store: the compare-and-swap Lua script (version check, write, TTL) + index update;
  raw: the same-shaped Lua script (``EVALSHA``: GET, compare version, SET) without the index;
* ``append_event`` — store: XADD with approximate MAXLEN plus the age trim (Lua); raw: ``XADD``
  with approximate MAXLEN.

Figure per operation: store ops/s ÷ raw ops/s (a ratio near 1 means the store adds little over the
commands themselves). Requires Redis on 127.0.0.1:6379 (``--redis-url`` to change); every key is
under a fresh prefix and deleted afterwards.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import redis.asyncio as aioredis
from _support import arguments, median, report

from interlock_core.model import Event, EventKind, RunState, RunStatus, TraitEvaluation
from interlock_plugins.stores.redis import RedisStore

CONCURRENCY = 32

RAW_CAS = """
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
if cjson.decode(current)['version'] ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""


async def rate(op: Callable[[int], Awaitable[object]], total: int) -> float:
    """Operations per second with CONCURRENCY tasks sharing ``total`` calls."""
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            await op(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return total / (time.perf_counter() - started)


async def main() -> None:
    args = arguments(__doc__ or "", [("--redis-url", {"default": "redis://127.0.0.1:6379/0"}),
                                     ("--ops", {"type": int, "default": None}),
                                     ("--reps", {"type": int, "default": None})])
    total = args.ops or (200 if args.quick else 5000)
    reps = args.reps or (1 if args.quick else 3)
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    store = RedisStore(url=args.redis_url, key_prefix=prefix + "s:")
    raw = aioredis.Redis.from_url(args.redis_url)
    await store.start()
    now = datetime.now(UTC)
    evaluation = TraitEvaluation(pipeline_id="bench", trait_type="freshness", status="PASS",
                                 value={"lagSeconds": 42}, evaluated_at=now)
    payload = evaluation.to_json()
    runs = [RunState(run_id=f"run-{i}", pipeline_id="bench", status=RunStatus.RUNNING, version=1,
                     created_at=now, updated_at=now) for i in range(total)]
    event = Event(kind=EventKind.TRAIT_EVALUATED, pipeline_id="bench", trait_type="freshness", status="PASS",
                  timestamp=now)
    event_json = event.to_json()
    raw_cas = raw.register_script(RAW_CAS)
    results: dict[str, dict[str, list[float]]] = {}
    try:
        await store.put_trait(evaluation, 3600)
        await raw.set(prefix + "r:trait", payload, px=3_600_000)

        async def prepare_cas() -> None:
            for run in runs:
                await store.create_run(run)
                await raw.set(prefix + f"r:run:{run.run_id}", run.to_json())

        await prepare_cas()
        versions = {"store": 1, "raw": 1}

        def store_cas(i: int) -> Awaitable[bool]:
            run = runs[i].model_copy()
            run.version = versions["store"] + 1
            return store.cas_run(run, versions["store"])

        def raw_cas_call(i: int) -> Awaitable[object]:
            run = runs[i]
            return raw_cas(keys=[prefix + f"r:run:{run.run_id}"],
                           args=[versions["raw"], run.model_copy(update={"version": versions["raw"] + 1}).to_json(),
                                 3_600_000])

        ops: dict[str, tuple[Callable[[int], Awaitable[object]], Callable[[int], Awaitable[object]]]] = {
            "put_trait": (lambda i: store.put_trait(evaluation, 3600),
                          lambda i: raw.set(prefix + "r:trait", payload, px=3_600_000)),
            "get_trait": (lambda i: store.get_trait("bench", "freshness"),
                          lambda i: _get_json(raw, prefix + "r:trait")),
            "cas_run": (store_cas, raw_cas_call),
            "append_event": (lambda i: store.append_event(event),
                             lambda i: raw.xadd(prefix + "r:events", {"kind": "TRAIT_EVALUATED", "data": event_json},
                                                maxlen=10_000, approximate=True)),
        }
        for name, (store_op, raw_op) in ops.items():
            results[name] = {"store": [], "raw": []}
            for _ in range(reps):
                results[name]["raw"].append(await rate(raw_op, total))
                results[name]["store"].append(await rate(store_op, total))
                if name == "cas_run":
                    versions["store"] += 1
                    versions["raw"] += 1
    finally:
        await store.purge()
        keys = [k async for k in raw.scan_iter(match=prefix + "*", count=1000)]
        if keys:
            await raw.delete(*keys)
        await raw.aclose()
        await store.close()
    rows: list[tuple[str, object]] = [("operations per turn", total), ("turns", reps), ("concurrency", CONCURRENCY)]
    figures: dict[str, object] = {"ops": total, "reps": reps, "concurrency": CONCURRENCY}
    for name, series in results.items():
        store_rate, raw_rate = median(series["store"]), median(series["raw"])
        ratio = round(store_rate / raw_rate, 3)
        rows += [(f"{name} store ops/s", round(store_rate)), (f"{name} raw ops/s", round(raw_rate)),
                 (f"{name} store ÷ raw", ratio)]
        figures[name] = {"store_ops_s": round(store_rate), "raw_ops_s": round(raw_rate), "ratio": ratio}
    report("redis store operations", rows, figures)


async def _get_json(raw: aioredis.Redis, key: str) -> object:
    value = await raw.get(key)
    return json.loads(value) if value else None


if __name__ == "__main__":
    asyncio.run(main())
