"""The batch operations, the :class:`~interlock_core.store_roles.BatchStore` slice of the store
conformance suite (see ``suite.py``): one read of a pipeline's traits, readiness and run logs in
view; batches of cycles' run logs, of pipelines' reruns and traits, of runs by id; the unit-of-work
commit of trait rows, events with their alerts
and claims, and the readiness cache."""

from __future__ import annotations

from datetime import timedelta

import anyio

from interlock_core.model import AlertClaim, EventKind, ReadinessStatus, RunStatus
from interlock_core.ports import Store
from interlock_core.store_roles import BatchStore
from interlock_core.unit_of_work import EventWrite, PipelineRecords, TraitWrite, UnitOfWork

from .records import Advance, at, event, pipeline, readiness, rerun, run, run_log, trait
from .suite_alerts import ident, record


class BatchStoreConformance:
    async def test_is_a_batch_store(self, store: BatchStore) -> None:
        assert isinstance(store, BatchStore)

    async def test_read_pipeline_answers_traits_readiness_and_run_logs_in_view(self, store: Store,
                                                                                advance: Advance) -> None:
        empty = await store.read_pipeline("ct-batch", [("2026-03-02", "daily")])
        assert dict(empty.traits) == {} and empty.readiness is None and dict(empty.run_logs) == {}
        a, b = trait("ct-batch", "a"), trait("ct-batch", "b", "FAIL", reason="late")
        await store.put_trait(a, None)
        await store.put_trait(b, None)
        await store.put_trait(trait("ct-batch", "gone"), 1)
        await store.put_trait(trait("ct-batch-other", "a"), None)
        cached = readiness("ct-batch", ReadinessStatus.NOT_READY, traits=[a, b], blocking=["b"])
        await store.put_readiness(cached, None)
        today, yesterday = run_log("ct-batch", "2026-03-02"), run_log("ct-batch", "2026-03-01", "morning")
        for entry in (today, yesterday, run_log("ct-batch", "2026-02-20"), run_log("ct-batch-other", "2026-03-02")):
            assert await store.cas_run_log(entry, None) is True
        await advance(1.5)
        found = await store.read_pipeline("ct-batch", [("2026-03-02", ""), ("2026-03-01", "morning"),
                                                       ("2026-02-28", "daily")])
        assert dict(found.traits) == {"a": a, "b": b}
        assert found.readiness == cached
        assert dict(found.run_logs) == {("2026-03-02", "daily"): today, ("2026-03-01", "morning"): yesterday}
        assert dict((await store.read_pipeline("ct-batch")).run_logs) == {}
        alone = await store.read_pipeline("ct-batch", [("2026-03-02", "daily")], readiness=False)
        assert alone.readiness is None and dict(alone.traits) == {"a": a, "b": b} and len(alone.run_logs) == 1

    async def test_read_pipeline_answers_config_reruns_and_runs_with_history(self, store: Store) -> None:
        assert (await store.read_pipeline("ct-state", config=True, history=5)).config_version is None
        config = pipeline("ct-state")
        await store.put_pipeline(config)
        await store.put_pipeline(pipeline("ct-state-other"))
        first = await store.read_pipeline("ct-state", config=True)
        assert first.pipeline == config and first.config_version
        unchanged = await store.read_pipeline("ct-state", config=True, known_version=first.config_version)
        assert unchanged.pipeline is None and unchanged.config_version == first.config_version
        changed = pipeline("ct-state", description="changed")
        await store.put_pipeline(changed)
        again = await store.read_pipeline("ct-state", config=True, known_version=first.config_version)
        assert again.pipeline == changed and again.config_version not in (None, first.config_version)
        assert (await store.read_pipeline("ct-state")).pipeline is None  # only when asked
        # the current cycle's run, a rerun of it and its run, an older run, another cycle's rerun
        for created, one in enumerate([run("ct-state-old", "ct-state", RunStatus.COMPLETED, date="2026-03-01"),
                                       run("ct-state-now", "ct-state", RunStatus.RUNNING, date="2026-03-02"),
                                       run("ct-state-rerun-run", "ct-state", RunStatus.PENDING, date="2026-03-02"),
                                       run("ct-state-elsewhere", "ct-state-other", date="2026-03-02")]):
            assert await store.create_run(one.model_copy(update={"created_at": at(created)}))
        assert await store.cas_run_log(run_log("ct-state", "2026-03-02", run_id="ct-state-now"), None)
        for n, asked in enumerate([rerun("ct-state-r1", "ct-state", original_date="2026-03-02",
                                          rerun_run_id="ct-state-rerun-run"),
                                    rerun("ct-state-r2", "ct-state", original_date="2026-02-27",
                                          rerun_run_id="ct-state-old"),
                                    rerun("ct-state-r3", "ct-state-other", original_date="2026-03-02")]):
            assert await store.cas_rerun(asked.model_copy(update={"requested_at": at(n)}), None)
        found = await store.read_pipeline("ct-state", [("2026-03-02", "daily")], readiness=False, config=True,
                                          history=10)
        assert found.pipeline == changed
        assert [r.rerun_id for r in found.reruns] == [r.rerun_id for r in await store.list_reruns("ct-state", 10)]
        assert [r.rerun_id for r in found.reruns] == ["ct-state-r2", "ct-state-r1"]
        assert found.latest_run == (await store.list_runs("ct-state", 1))[0]
        assert set(found.runs) == {"ct-state-now", "ct-state-rerun-run"}  # not another cycle's rerun's run
        assert found.runs["ct-state-now"] == await store.get_run("ct-state-now")
        newest = await store.read_pipeline("ct-state", [("2026-03-02", "")], history=1)
        assert [r.rerun_id for r in newest.reruns] == ["ct-state-r2"] and set(newest.runs) == {"ct-state-now"}
        assert dict((await store.read_pipeline("ct-state", [("2026-03-02", "daily")])).runs) == {}

    async def test_a_shared_read_pipeline_answers_what_a_plain_one_does(self, store: Store) -> None:
        """``shared=True`` lets a store answer the records it keeps rather than copies; what they hold
        is what a plain read answers, before and after a change."""
        await store.put_pipeline(pipeline("ct-shared"))
        await store.put_trait(trait("ct-shared", "a"), None)
        assert await store.cas_run_log(run_log("ct-shared", "2026-03-02"), None)

        async def both() -> tuple[PipelineRecords, PipelineRecords]:
            reads = [await store.read_pipeline("ct-shared", [("2026-03-02", "daily")], readiness=False, config=True,
                                               history=5, shared=shared) for shared in (False, True)]
            return reads[0], reads[1]

        for _ in range(2):
            plain, shared = await both()
            assert shared == plain and dict(shared.traits) == {"a": trait("ct-shared", "a")}
        await store.put_trait(trait("ct-shared", "a", "FAIL", reason="late"), None)
        plain, shared = await both()
        assert shared == plain and shared.traits["a"].status == "FAIL"

    async def test_read_cycles_answers_many_cycles_at_once(self, store: Store) -> None:
        entries = [run_log(f"ct-cycles-{n}", "2026-03-02") for n in range(120)]  # past one statement's width (SQLite)
        entries.append(run_log("ct-cycles-0", "2026-03-01", "morning"))
        for entry in entries:
            assert await store.cas_run_log(entry, None) is True
        asked = [(e.pipeline_id, e.date, e.schedule_id or "daily") for e in entries]
        asked += [("ct-cycles-0", "2026-02-27", "daily"), ("ct-cycles-missing", "2026-03-02", "daily")]
        found = await store.read_cycles(asked)
        assert found == {(e.pipeline_id, e.date, e.schedule_id or "daily"): e for e in entries}
        assert await store.read_cycles([]) == {}

    async def test_read_reruns_answers_many_pipelines_at_once(self, store: Store) -> None:
        for n, (rerun_id, pipeline_id) in enumerate([("ct-rr-a1", "ct-rr-a"), ("ct-rr-b1", "ct-rr-b"),
                                                      ("ct-rr-a2", "ct-rr-a"), ("ct-rr-a3", "ct-rr-a")]):
            asked = rerun(rerun_id, pipeline_id, original_date="2026-03-02")
            assert await store.cas_rerun(asked.model_copy(update={"requested_at": at(n)}), None)
        found = await store.read_reruns(["ct-rr-a", "ct-rr-b", "ct-rr-none", "ct-rr-a"], limit=2)
        assert set(found) == {"ct-rr-a", "ct-rr-b"}
        assert found["ct-rr-a"] == await store.list_reruns("ct-rr-a", 2)
        assert [r.rerun_id for r in found["ct-rr-a"]] == ["ct-rr-a3", "ct-rr-a2"]
        assert found["ct-rr-b"] == await store.list_reruns("ct-rr-b", 2)
        assert (await store.read_reruns(["ct-rr-a"], limit=20))["ct-rr-a"] == await store.list_reruns("ct-rr-a", 20)
        assert await store.read_reruns([]) == {}

    async def test_read_traits_answers_many_pipelines_at_once(self, store: Store, advance: Advance) -> None:
        for pipeline_id, trait_type in [("ct-rt-a", "b"), ("ct-rt-a", "a"), ("ct-rt-b", "a")]:
            await store.put_trait(trait(pipeline_id, trait_type), None)
        await store.put_trait(trait("ct-rt-a", "gone"), 1)
        await store.put_trait(trait("ct-rt-c", "gone"), 1)
        await advance(1.5)
        found = await store.read_traits(["ct-rt-a", "ct-rt-b", "ct-rt-c", "ct-rt-none", "ct-rt-a"])
        assert found == {"ct-rt-a": await store.list_traits("ct-rt-a"), "ct-rt-b": await store.list_traits("ct-rt-b")}
        assert [t.trait_type for t in found["ct-rt-a"]] == ["a", "b"]
        assert await store.read_traits([]) == {}

    async def test_read_runs_answers_many_runs_at_once(self, store: Store) -> None:
        made = [run(f"ct-runs-{n}", f"ct-runs-p{n % 3}", RunStatus.COMPLETED) for n in range(7)]
        for one in made:
            assert await store.create_run(one)
        asked = [r.run_id for r in made] + ["ct-runs-missing", "ct-runs-0"]
        found = await store.read_runs(asked)
        assert found == {r.run_id: await store.get_run(r.run_id) for r in made}
        assert await store.read_runs([]) == {}

    async def test_commit_writes_traits_events_alerts_and_readiness_together(self, store: Store,
                                                                             advance: Advance) -> None:
        a, b = trait("ct-commit", "a"), trait("ct-commit", "b", "FAIL", reason="empty")
        result = readiness("ct-commit", ReadinessStatus.NOT_READY, traits=[a, b], blocking=["b"])
        claim = AlertClaim("trait-failed:ct-commit:b:none", ttl=60)
        work = UnitOfWork(
            traits=[TraitWrite(a, None), TraitWrite(b, 1)],
            events=[EventWrite(event("ct-commit", message="a")),
                    EventWrite(event("ct-commit", message="b"), [record(ident(1), pipeline="ct-commit")], claim),
                    EventWrite(event("ct-commit", EventKind.READINESS_CHECKED, message="checked"))],
            readiness=result, readiness_ttl=None)
        done = await store.commit(work)
        assert done.skipped == frozenset() and done.claimed == (True, True, True)
        assert await store.list_traits("ct-commit") == [a, b]
        assert await store.get_readiness("ct-commit") == result
        assert [e.message for e in await store.list_events("ct-commit")] == ["a", "b", "checked"]
        assert await store.get_alert(ident(1)) is not None
        assert await store.lease_owner(claim.lease_key) is not None
        await advance(1.5)
        assert await store.list_traits("ct-commit") == [a]  # the ttl of each row is its own
        # the claim is held: the event is written, its alert is not
        again = UnitOfWork(events=[EventWrite(event("ct-commit", message="b again"),
                                              [record(ident(2), pipeline="ct-commit")], claim)])
        assert (await store.commit(again)).claimed == (False,)
        assert await store.get_alert(ident(2)) is None
        assert [e.message for e in await store.list_events("ct-commit")][-1] == "b again"
        assert (await store.commit(UnitOfWork())).claimed == ()

    async def test_commit_never_overwrites_a_result_pushed_after_the_evaluation_started(self, store: Store) -> None:
        started = at(10)
        pushed_after = trait("ct-push-race", "a", source="pushed", evaluated_at=at(11))
        pushed_before = trait("ct-push-race", "b", source="pushed", evaluated_at=at(9))
        evaluated_after = trait("ct-push-race", "c", source="evaluator", evaluated_at=at(11))
        for stored in (pushed_after, pushed_before, evaluated_after):
            await store.put_trait(stored, None)
        verdicts = [trait("ct-push-race", t, "FAIL", source="evaluator", evaluated_at=at(12)) for t in "abcd"]
        done = await store.commit(UnitOfWork(traits=[TraitWrite(v, None, unless_pushed_after=started)
                                                     for v in verdicts]))
        assert done.skipped == frozenset({"a"})
        assert await store.list_traits("ct-push-race") == [pushed_after, *verdicts[1:]]
        # without the condition, the row is written whatever is stored
        await store.commit(UnitOfWork(traits=[TraitWrite(verdicts[0], None)]))
        assert await store.get_trait("ct-push-race", "a") == verdicts[0]

    async def test_concurrent_commits_claim_an_alert_once(self, store: Store) -> None:
        claim = AlertClaim("blocked:ct-commit-race:none", ttl=timedelta(minutes=10).total_seconds())
        answers: list[bool] = []

        async def one(n: int) -> None:
            work = UnitOfWork(events=[EventWrite(event("ct-commit-race", message=str(n)),
                                                 [record(ident(n), pipeline="ct-commit-race")], claim)])
            answers.extend((await store.commit(work)).claimed)

        async with anyio.create_task_group() as tg:
            for n in range(5):
                tg.start_soon(one, n)
        assert sorted(answers) == [False] * 4 + [True]
        assert len(await store.list_events("ct-commit-race")) == 5
        assert len([r for r in await store.list_alerts() if r.alert.pipeline_id == "ct-commit-race"]) == 1
