"""Several ``interlock serve`` replicas on one Redis: cycles are shared without ever being worked
twice at once, every attempt is launched exactly once, a replica killed mid-cycle loses nothing,
and a pushed trait or a completion on one replica wakes another replica's watcher at once."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import httpx
import pytest

from tests.e2e.support import eventually, http_trigger
from tests.helpers.served import Served

from .support import RUN_LEASE, Cluster, overlaps, read_spans, relay_pipeline

pytestmark = pytest.mark.replicas


async def _register(replica: Served, pipeline: dict[str, Any]) -> None:
    async with replica.client() as api:
        response = await api.post("/api/pipelines", json=pipeline)
        assert response.status_code == 201, response.text


async def _push(replica: Served, pipeline: str, trait: str = "signal") -> None:
    async with replica.client() as api:
        response = await api.post(f"/api/pipelines/{pipeline}/traits/{trait}", json={"status": "PASS"})
        assert response.status_code == 201, response.text


async def _get(replica: Served, path: str) -> Any:
    async with replica.client() as api:
        response = await api.get(path, params={"limit": 200} if path.endswith(("runs", "events")) else None)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        return response.json()


async def _wait_run_log(replica: Served, pipeline: str, status: str, within: float = 30.0) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        logs: list[dict[str, Any]] = await _get(replica, f"/api/pipelines/{pipeline}/runlogs")
        return logs[0] if logs and logs[0]["status"] == status else None

    return await eventually(found, what=f"run log of {pipeline} {status}", within=within)


def _zone_before_evening() -> str:
    """A zone where it is between 02:00 and 20:00 now, so an ``after: "23:30"`` schedule is not
    active yet today there."""
    now = datetime.now(UTC)
    for name in ["UTC", *(f"Etc/GMT{sign}{hours}" for hours in range(1, 12) for sign in "+-")]:
        if 2 <= now.astimezone(ZoneInfo(name)).hour < 20:
            return name
    raise AssertionError("unreachable: some offset puts the hour in range")


async def test_replicas_never_work_a_cycle_at_once_nor_launch_it_twice(trio: Cluster) -> None:
    names = [f"shared-{i}" for i in range(3)]
    a = trio.replicas["a"]
    for name in names:
        trio.orchestrator.complete_automatically(name, delay=0.1)
        await _register(a, relay_pipeline(name, trio.orchestrator, seconds=0.3))

    async def contended() -> bool:  # all three watchers go after every cycle each second (signal missing)
        spans = [s for name in names for s in read_spans(trio.sensors, name)]
        return len(spans) >= 9 and len({s.replica for s in spans}) >= 2

    await eventually(contended, what="evaluations by several replicas")
    for name in names:
        await _push(a, name)
    for name in names:
        await _wait_run_log(trio.replicas["b"], name, "COMPLETED")
    await anyio.sleep(2.0)  # two more watcher intervals on every replica: nothing else may launch

    replicas = {served.pid for served in trio.replicas.values()}
    for name in names:
        launches = trio.orchestrator.launches(name)
        assert [x.cycle_key for x in launches] == [f"{name}:daily:{launches[0].body['date']}:1"], name
        assert len(await _get(a, f"/api/pipelines/{name}/runs")) == 1
        spans = read_spans(trio.sensors, name)
        assert overlaps(spans) == [], f"{name} was evaluated by two replicas at once: {overlaps(spans)}"
        assert {s.replica for s in spans} <= replicas


async def test_concurrent_run_requests_on_every_replica_launch_once(trio: Cluster) -> None:
    name = "raced"
    a = trio.replicas["a"]
    await _register(a, relay_pipeline(name, trio.orchestrator, seconds=0.2, watch={"enabled": False}))
    await _push(trio.replicas["b"], name)
    answers: list[httpx.Response] = []

    async def ask(replica: Served) -> None:
        async with replica.client() as api:
            answers.append(await api.post(f"/api/pipelines/{name}/run"))

    async with anyio.create_task_group() as tg:
        for replica in list(trio.replicas.values()) * 2:
            tg.start_soon(ask, replica)
    codes = sorted(r.status_code for r in answers)
    assert codes == [202] + [409] * 5, [r.text for r in answers]
    assert {r.json()["outcome"] for r in answers if r.status_code == 409} <= {"in_progress", "claim_lost",
                                                                              "duplicate"}
    [launch] = trio.orchestrator.launches(name)
    assert launch.run_id == next(r.json()["runId"] for r in answers if r.status_code == 202)


async def test_a_replica_killed_while_launching_is_relaunched_elsewhere_under_the_same_key(
        make_cluster: Any) -> None:
    cluster: Cluster = make_cluster()
    a, b = cluster.start("a", "b")
    name = "handover"
    zone = _zone_before_evening()  # the watchers leave the launch to the API, and look after the run
    pipeline = relay_pipeline(name, cluster.orchestrator, seconds=0,
                              schedules=[{"name": "late", "after": "23:30", "timezone": zone}])
    pipeline["trigger"]["timeout"] = 60
    await _register(a, pipeline)
    await _push(a, name)
    cluster.orchestrator.hold(name)  # the launch hangs: the replica is killed in the middle of it

    async def run_on_a() -> None:
        async with a.client() as api:
            try:
                await api.post(f"/api/pipelines/{name}/run")
            except httpx.HTTPError:
                pass  # the replica died under the request

    async with anyio.create_task_group() as tg:
        tg.start_soon(run_on_a)
        [launch] = await eventually(lambda: _launches(cluster, name, 1), what="the launch on replica a")
        assert cluster.by_url(launch.callback_url) == "a"
        run = await _get(b, f"/api/runs/{launch.run_id}")
        assert (run["status"], run["attempt"]) == ("TRIGGERING", 1)
        a.kill()
    cluster.orchestrator.release(name)
    cluster.orchestrator.complete_automatically(name)

    async def relaunched() -> dict[str, Any] | None:
        current: dict[str, Any] = await _get(b, f"/api/runs/{launch.run_id}")
        return current if current["status"] == "COMPLETED" else None

    # replica b's watcher: the run lease (engine.runLease) lapsed, so b relaunches the run under the
    # same run key; the orchestrator answers with the job it already has, and no retry is spent
    done = await eventually(relaunched, what="the orphaned run relaunched", within=RUN_LEASE + 20)
    assert done["attempt"] == 1 and done["metadata"]["relaunches"] == 1
    events = await _get(b, f"/api/pipelines/{name}/events")
    assert [e["runId"] for e in events if e["kind"] == "RUN_RECONCILED"] == [launch.run_id]
    assert not any(e["kind"] == "RETRY_SCHEDULED" for e in events)
    entry = await _wait_run_log(b, name, "COMPLETED")
    assert (entry["attemptNumber"], entry["runId"], entry["retryHistory"]) == (1, launch.run_id, [])
    launches = cluster.orchestrator.launches(name)
    assert [x.cycle_key for x in launches] == [f"{name}:late:{entry['date']}:1"] * 2
    assert len({x.run_key for x in launches}) == 1  # both replicas: one store identity, one key
    assert [x.duplicate for x in launches] == [False, True] and len(cluster.orchestrator.jobs(name)) == 1
    assert cluster.by_url(launches[1].callback_url) == "b"


async def _launches(cluster: Cluster, name: str, count: int) -> list[Any] | None:
    launches = cluster.orchestrator.launches(name)
    return launches if len(launches) >= count else None


@pytest.mark.slow
async def test_replicas_killed_mid_cycle_leave_the_work_to_the_survivors(make_cluster: Any) -> None:
    cluster: Cluster = make_cluster()
    cluster.start("a", "b", "c")
    a = cluster.replicas["a"]
    evaluating, launching = "held-evaluation", "held-launch"
    (cluster.sensors.root / f"{evaluating}.hold").touch()  # its evaluator runs until the file goes
    cluster.orchestrator.hold(launching)  # its launch hangs
    await _register(a, relay_pipeline(evaluating, cluster.orchestrator, seconds=0))
    pipeline = relay_pipeline(launching, cluster.orchestrator, seconds=0)
    pipeline["trigger"]["timeout"] = 60
    await _register(a, pipeline)
    for name in (evaluating, launching):
        await _push(a, name)

    async def holders() -> set[str] | None:
        running = [s for s in read_spans(cluster.sensors, evaluating) if s.running]
        launches = cluster.orchestrator.launches(launching)
        if not running or not launches:
            return None
        return {cluster.by_pid(running[0].replica), cluster.by_url(launches[0].callback_url)}

    victims = await eventually(holders, what="one replica evaluating, one launching", every=0.02)
    for victim in victims:
        cluster.replicas[victim].kill()
    survivor = next(s for n, s in cluster.replicas.items() if n not in victims)
    (cluster.sensors.root / f"{evaluating}.hold").unlink()
    cluster.orchestrator.release(launching)
    for name in (evaluating, launching):
        cluster.orchestrator.complete_automatically(name)

    # the dead replicas' cycle leases expire (2 x trait timeout + 30 s), then a survivor goes on
    evaluated = await _wait_run_log(survivor, evaluating, "COMPLETED", within=90)
    launched = await _wait_run_log(survivor, launching, "COMPLETED", within=30)
    day = evaluated["date"]
    [only] = cluster.orchestrator.launches(evaluating)
    assert only.cycle_key == f"{evaluating}:daily:{day}:1" and cluster.by_url(only.callback_url) not in victims
    keys = [x.run_key for x in cluster.orchestrator.launches(launching)]
    assert keys == [f"{only.store_identity}:{launching}:daily:{day}:1"] * 2  # relaunched under the same key
    assert len(cluster.orchestrator.jobs(launching)) == 1
    assert launched["attemptNumber"] == 1 and launched["retryHistory"] == []
    assert overlaps(read_spans(cluster.sensors, evaluating)) == []


async def test_a_push_or_a_completion_on_one_replica_wakes_another_at_once(make_cluster: Any) -> None:
    cluster: Cluster = make_cluster(watcher={"enabled": True, "defaultInterval": "60s"})
    [api_only] = cluster.start("api", watcher=False)
    [watching] = cluster.start("watcher")
    silver, gold = "woken-silver", "woken-gold"

    async def passing() -> bool:
        return int((await _get(watching, "/api/health"))["watcher"]["passes"]) > 0

    await eventually(passing, what="the watcher's first pass")
    await _register(api_only, relay_pipeline(silver, cluster.orchestrator, seconds=0))
    await _register(api_only, {
        "name": gold, "archetype": "medallion",
        "traits": {"upstream-dependency": {"evaluator": "builtin:upstream-job-log",
                                           "config": {"upstreamPipeline": silver}}},
        "trigger": http_trigger(gold, cluster.orchestrator)})

    async def evaluated(name: str) -> bool:
        events = await _get(api_only, f"/api/pipelines/{name}/events")
        return any(e["kind"] == "WATCHER_EVALUATION" for e in events)

    for name in (silver, gold):  # registered on one replica, evaluated by the other's watcher
        await eventually(partial(evaluated, name), what=f"the watcher evaluating {name}")

    pushed_at = time.monotonic()
    await _push(api_only, silver)
    [silver_launch] = await eventually(lambda: _launches(cluster, silver, 1), what="silver launched")
    push_to_launch = silver_launch.at - pushed_at
    assert cluster.by_url(silver_launch.callback_url) == "watcher"

    completed_at = time.monotonic()
    async with api_only.client() as api:  # the callback arrives at the replica without a watcher
        done = await api.post(f"/api/runs/{silver_launch.run_id}/complete", json={"status": "success"})
        assert done.status_code == 200 and done.json()["status"] == "COMPLETED"
    [gold_launch] = await eventually(lambda: _launches(cluster, gold, 1), what="gold launched by the cascade")
    completion_to_launch = gold_launch.at - completed_at
    print(json.dumps({"pushToLaunchSeconds": round(push_to_launch, 3),
                      "completionToLaunchSeconds": round(completion_to_launch, 3), "watchInterval": 60}))
    # both far below the 60 s watch interval: the wake-ups travelled over Redis pub/sub
    assert push_to_launch < 10 and completion_to_launch < 10
