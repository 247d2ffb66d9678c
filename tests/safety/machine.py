"""The safety campaign: a hypothesis state machine that drives several engines on one store
through schedules, faults and crashes, and checks the invariants after every step."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo

import anyio
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from interlock_core.errors import InterlockError
from interlock_core.model import PipelineConfig

from .invariants import Checker
from .oracle import new_decision
from .pipelines import NAMES, TRAITS, pipeline_config
from .plugin import EVALUATOR_OUTCOMES, POLL_OUTCOMES, REPORTED_FAILED, TRIGGER_OUTCOMES
from .world import Slot, World

T = TypeVar("T")

ADVANCES = [timedelta(minutes=1), timedelta(minutes=7), timedelta(minutes=31), timedelta(hours=2),
            timedelta(hours=7), timedelta(days=1), timedelta(days=3)]
DST_INSTANTS = [  # just before, inside and after both New York changes of 2026
    datetime(2026, 3, 8, 6, 45, tzinfo=UTC), datetime(2026, 3, 8, 7, 20, tzinfo=UTC),
    datetime(2026, 3, 8, 7, 45, tzinfo=UTC), datetime(2026, 11, 1, 5, 20, tzinfo=UTC),
    datetime(2026, 11, 1, 6, 20, tzinfo=UTC), datetime(2026, 11, 1, 7, 10, tzinfo=UTC),
]
ZONES = [ZoneInfo("America/New_York"), UTC]

STATS: dict[str, int] = {}
"""Steps and launches per store, summed over the session (reported by the tests)."""


class SafetyMachine(RuleBasedStateMachine):
    backend: ClassVar[str] = "sqlite"
    evaluator: ClassVar[str] = "safety"

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.TemporaryDirectory(prefix="interlock-safety-")
        self.world = World(Path(self.tmp.name) / "project", self.backend, evaluator=self.evaluator)
        self.checker = Checker(self.world)
        self.steps = 0
        self.run(self.world.start())

    # ------------------------------------------------------------------------------ plumbing
    def run(self, coro: Awaitable[T]) -> T:
        async def main() -> T:
            return await coro

        return self.loop.run_until_complete(main())

    def act(self, action: Callable[[], Awaitable[Any]]) -> None:
        """Run one step: Interlock's own errors are normal outcomes; any other is a finding."""
        self.world.behaviour.step = self.steps

        async def guarded() -> None:
            try:
                await action()
            except InterlockError:
                pass
            except Exception as exc:
                self.world.unexpected.append(f"{type(exc).__name__}: {exc!r}")

        self.run(guarded())

    def slot(self, index: int) -> Slot:
        return self.world.slots[index % len(self.world.slots)]

    async def register_async(self, slot: Slot, data: dict[str, Any]) -> None:
        try:
            await slot.engine.register_pipeline(PipelineConfig.model_validate(data))
        finally:
            await self.world.refresh_config(data["name"])

    # ------------------------------------------------------------------------------ set-up
    @initialize(names=st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True),
                choices=st.lists(st.integers(0, 3), min_size=6, max_size=6))
    def pipelines(self, names: list[str], choices: list[int]) -> None:
        for name in names:
            data = pipeline_config(name, choices[0], choices[1], choices[2], choices[3], choices[4] % 3,
                                   pushed_c=bool(choices[5] % 2), evaluator=self.evaluator)
            self.act(lambda data=data: self.register_async(self.world.slots[0], data))

    # ------------------------------------------------------------------------------ configuration
    @rule(engine=st.integers(0, 3), name=st.sampled_from(NAMES), schedules=st.integers(0, 3),
          sla=st.integers(0, 3), retry=st.integers(0, 3), watch=st.integers(0, 3), exclusions=st.integers(0, 2),
          pushed_c=st.booleans())
    def alter_pipeline(self, engine: int, name: str, schedules: int, sla: int, retry: int, watch: int,
                       exclusions: int, pushed_c: bool) -> None:
        data = pipeline_config(name, schedules, sla, retry, watch, exclusions, pushed_c, evaluator=self.evaluator)
        self.act(lambda: self.register_async(self.slot(engine), data))

    @rule(name=st.sampled_from(NAMES), trait=st.sampled_from(TRAITS), outcome=st.sampled_from(EVALUATOR_OUTCOMES))
    def set_evaluator(self, name: str, trait: str, outcome: str) -> None:
        self.world.set_evaluator(name, trait, outcome)

    @rule(engine=st.integers(0, 3), name=st.sampled_from(NAMES), status=st.sampled_from(["PASS", "PASS", "FAIL"]),
          ttl=st.sampled_from([None, 600]))
    def push_trait(self, engine: int, name: str, status: str, ttl: int | None) -> None:
        self.act(lambda: self.slot(engine).engine.push_trait(name, "c", status, ttl=ttl))

    @rule(name=st.sampled_from(NAMES), outcome=st.sampled_from(TRIGGER_OUTCOMES))
    def set_trigger(self, name: str, outcome: str) -> None:
        self.world.behaviour.triggers[name] = outcome

    @rule(name=st.sampled_from(NAMES), outcome=st.sampled_from(POLL_OUTCOMES))
    def set_poll(self, name: str, outcome: str) -> None:
        self.world.behaviour.polls[name] = outcome

    # ------------------------------------------------------------------------------ time
    @rule(delta=st.sampled_from(ADVANCES))
    def advance_clock(self, delta: timedelta) -> None:
        self.world.clock.advance(delta)

    @rule(zone=st.sampled_from(ZONES), minutes=st.sampled_from([-2, 1, 3]))
    def cross_midnight(self, zone: Any, minutes: int) -> None:
        """To just before or just after the next local midnight."""
        now = self.world.clock.now()
        local = now.astimezone(zone)
        midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        target = midnight.astimezone(UTC) + timedelta(minutes=minutes)
        if target > now:
            self.world.clock.set(target)

    @rule(index=st.integers(0, len(DST_INSTANTS) - 1))
    def cross_dst(self, index: int) -> None:
        target = DST_INSTANTS[index]
        if target > self.world.clock.now():
            self.world.clock.set(target)

    # ------------------------------------------------------------------------------ control
    @rule(engine=st.integers(0, 3), all_cycles=st.booleans())
    def watcher_pass(self, engine: int, all_cycles: bool) -> None:
        self.act(lambda: self.slot(engine).watcher.run_once(all_cycles=all_cycles))

    @rule(engine=st.integers(0, 3), name=st.sampled_from(NAMES), trait=st.sampled_from(["a", "b"]),
          outcome=st.sampled_from(["fail", "timeout", "crash", "bad"]), later=st.sampled_from([0, 60, 1800]))
    def trait_turns_then_watch(self, engine: int, name: str, trait: str, outcome: str, later: int) -> None:
        """A required trait stops passing (drift, if a run is being monitored), then a watcher pass."""
        self.world.set_evaluator(name, trait, outcome)
        self.world.clock.advance(later)
        self.act(lambda: self.slot(engine).watcher.run_once())

    @rule(engine=st.integers(0, 3), name=st.sampled_from(NAMES))
    def ready_and_watch(self, engine: int, name: str) -> None:
        """Every trait of a pipeline passes (c pushed PASS), then a watcher pass."""
        for trait in TRAITS:
            self.world.set_evaluator(name, trait, "pass")

        async def go() -> None:
            await self.slot(engine).engine.push_trait(name, "c", "PASS")
            await self.slot(engine).watcher.run_once()

        self.act(go)

    @rule(actions=st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["start", "start", "pass", "rerun"]),
                                     st.sampled_from(NAMES)), min_size=2, max_size=5))
    def concurrently(self, actions: list[tuple[int, str, str]]) -> None:
        async def one(engine: int, kind: str, name: str) -> None:
            new_decision()
            slot = self.slot(engine)
            try:
                if kind == "start":
                    await slot.engine.start_run(name)
                elif kind == "pass":
                    await slot.watcher.run_once()
                else:
                    await slot.engine.request_rerun(name, self.world.clock.now().date().isoformat(), "campaign")
            except InterlockError:
                pass
            except Exception as exc:
                self.world.unexpected.append(f"concurrent {kind} {name}: {type(exc).__name__}: {exc!r}")

        async def all_of() -> None:
            async with anyio.create_task_group() as tg:
                for engine, kind, name in actions:
                    tg.start_soon(one, engine, kind, name)

        self.act(all_of)

    @rule(engine=st.integers(0, 3), name=st.sampled_from(NAMES), days_back=st.integers(0, 2))
    def request_rerun(self, engine: int, name: str, days_back: int) -> None:
        day = (self.world.clock.now() - timedelta(days=days_back)).date().isoformat()

        async def go() -> None:
            new_decision()
            await self.slot(engine).engine.request_rerun(name, day, "campaign")

        self.act(go)

    @rule(engine=st.integers(0, 3), which=st.integers(0, 10_000),
          action=st.sampled_from(["success", "failed", "fail", "cancel", "success-twice", "poll", "rerun-success"]))
    def callback(self, engine: int, which: int, action: str) -> None:
        # mostly recent runs; launches of one step in a fixed order (by run key), not in the order
        # their tasks happened to reach the trigger, so the choice does not depend on timing
        launches = sorted(self.world.behaviour.ledger.launches, key=lambda x: (x.step, x.run_key, x.relaunch))
        if not launches:
            return
        launch = launches[-1 - which % min(len(launches), 8)]
        e = self.slot(engine).engine

        async def go() -> None:
            if action == "success":
                await e.complete_run(launch.run_id, "success")
            elif action == "success-twice":
                await e.complete_run(launch.run_id, "success")
                await e.complete_run(launch.run_id, "success")
            elif action == "failed":
                await e.complete_run(launch.run_id, "failed", {"failureCategory": "PERMANENT"})
            elif action == "fail":
                await e.fail_run(launch.run_id, REPORTED_FAILED)
            elif action == "cancel":
                await e.cancel_run(launch.run_id, "operator")
            elif action == "poll":
                await e.poll_run(launch.run_id)
            else:
                run = await e.store.get_run(launch.run_id)
                if run is not None and run.rerun_id:
                    await e.complete_rerun(run.rerun_id, "success")

        self.act(go)

    # ------------------------------------------------------------------------------ faults
    @rule(engine=st.integers(0, 3), count=st.integers(1, 4), skip=st.integers(0, 60), lost_reply=st.booleans())
    def store_outage(self, engine: int, count: int, skip: int, lost_reply: bool) -> None:
        self.slot(engine).store.fail(count, lost_reply=lost_reply, skip=skip)

    @rule(engine=st.integers(0, 3), count=st.integers(1, 3))
    def alert_sink_failure(self, engine: int, count: int) -> None:
        self.slot(engine).sink.fail_next = count

    @rule(engine=st.integers(0, 3), name=st.sampled_from(NAMES), via_watcher=st.booleans(), drop=st.booleans())
    def crash_mid_launch(self, engine: int, name: str, via_watcher: bool, drop: bool) -> None:
        """The engine is cancelled while its trigger is launching (and maybe never comes back)."""
        slot = self.slot(engine)
        behaviour = self.world.behaviour

        async def go() -> None:
            behaviour.hang_next.add(name)
            behaviour.hanging = anyio.Event()
            try:
                async with anyio.create_task_group() as tg:
                    async def start() -> None:
                        new_decision()
                        try:
                            if via_watcher:
                                await slot.watcher.run_once()
                            else:
                                await slot.engine.start_run(name)
                        except InterlockError:
                            pass
                        tg.cancel_scope.cancel()

                    async def crash() -> None:
                        assert behaviour.hanging is not None
                        await behaviour.hanging.wait()
                        tg.cancel_scope.cancel()

                    tg.start_soon(start)
                    tg.start_soon(crash)
            finally:
                behaviour.hang_next.discard(name)
                behaviour.hanging = None
            if drop:
                await self.world.drop_engine(slot)

        self.act(go)

    @rule(engine=st.integers(0, 3))
    def restart_engine(self, engine: int) -> None:
        self.act(lambda: self.world.drop_engine(self.slot(engine)))

    # ------------------------------------------------------------------------------ checks
    @invariant()
    def safe(self) -> None:
        self.steps += 1
        violations = self.run(self.checker.check())
        assert not violations, "\n".join(violations)

    def teardown(self) -> None:
        try:
            violations = self.run(self.checker.check(full=True))
            key = f"{self.backend}/{self.evaluator}"
            STATS[f"{key}:steps"] = STATS.get(f"{key}:steps", 0) + self.steps
            STATS[f"{key}:launches"] = STATS.get(f"{key}:launches", 0) + len(self.world.behaviour.ledger.launches)
            STATS[f"{key}:violations"] = STATS.get(f"{key}:violations", 0) + len(violations)
            slots = [*self.world.slots, *self.world.retired]
            counts = {"store-faults": sum(s.store.injected for s in slots),
                      "engines-replaced": len(self.world.retired),
                      "watcher-ticks": sum(len(t) for t in self.world.ticks.values()),
                      "alerts": len(self.world.submitted), "alerts-failed": len(self.world.failed_alerts),
                      "relaunches": sum(x.relaunch > 0 for x in self.world.behaviour.ledger.launches),
                      "orchestrator-jobs": len(self.world.behaviour.ledger.jobs),
                      "jobs-never-answered": sum(not j.answered for j in self.world.behaviour.ledger.jobs.values())}
            for kind in ("RUN_RECONCILED", "SLA_BREACHED", "RETRY_SCHEDULED", "RETRY_EXHAUSTED",
                         "MONITORING_DRIFT_DETECTED", "RERUN_COMPLETED", "CASCADE_NOTIFIED"):
                counts[kind] = sum(e.kind.value == kind for e in self.world.events)
            for name, value in counts.items():
                STATS[f"{key}:{name}"] = STATS.get(f"{key}:{name}", 0) + value
            assert not violations, "\n".join(violations)
        finally:
            self.run(self.world.close())
            self.loop.close()
            self.tmp.cleanup()
