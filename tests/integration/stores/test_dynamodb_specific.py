"""What the ``dynamodb`` store promises beyond the conformance suite: the single-table item layout,
cascade markers on the table's stream, pagination, expiry by the store's clock, retention, and
outages as ``StoreUnavailable`` — against moto in server mode."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aioboto3
import anyio
import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoRegionError
from pydantic import ValidationError as PydanticError

from interlock_core.clock import FakeClock
from interlock_core.errors import ConfigError, StoreUnavailable, ValidationError
from interlock_core.model import (
    CascadeMarker,
    Event,
    EventKind,
    PipelineConfig,
    ReadinessResult,
    ReadinessStatus,
    RerunRecord,
    RunLogEntry,
    RunState,
    RunStatus,
    TraitEvaluation,
)
from interlock_core.plugins import PluginContext
from interlock_core.ports import Store
from interlock_plugins.stores import _dynamodb_items as items
from interlock_plugins.stores import interlock_register_stores
from interlock_plugins.stores._dynamodb_table import ConditionFailed, TransactionConflict, translate
from interlock_plugins.stores.dynamodb import DynamoDBConfig, DynamoDBStore
from tests.helpers.dynamodb import dynamodb_moto_server
from tests.moto_server import FAKE_REGION, MotoServer, fake_aws_environment

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
EPOCH = int(NOW.timestamp())
DAY = 24 * 3600
WEEK = 7 * DAY


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    with dynamodb_moto_server() as server:
        yield server


@pytest.fixture(scope="module")
def aws_session() -> aioboto3.Session:
    return aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=FAKE_REGION)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def admin(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    fake_aws_environment(monkeypatch, moto_server)
    return boto3.client("dynamodb", endpoint_url=moto_server.url, region_name=FAKE_REGION)


@pytest.fixture
def table(admin: Any) -> Iterator[str]:
    name = f"interlock-test-{uuid.uuid4().hex[:12]}"
    yield name
    try:
        admin.delete_table(TableName=name)
    except ClientError:
        pass


@pytest.fixture
def make_store(
    moto_server: MotoServer, aws_session: aioboto3.Session, clock: FakeClock, table: str
) -> Iterator[Any]:
    made: list[DynamoDBStore] = []

    def make(**options: Any) -> DynamoDBStore:
        options = {"table_name": table, "endpoint": moto_server.url, "region": FAKE_REGION,
                   "create_table": True, **options}
        store = DynamoDBStore(clock=options.pop("clock", clock), session=aws_session, **options)
        made.append(store)
        return store

    yield make


@pytest.fixture
async def store(make_store: Any) -> AsyncIterator[DynamoDBStore]:
    dynamodb_store: DynamoDBStore = make_store()
    await dynamodb_store.start()
    try:
        yield dynamodb_store
    finally:
        await dynamodb_store.close()


def _items(admin: Any, table: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every item of the table (moto keeps expired ones), keyed by (PK, SK)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for page in admin.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            out[(item["PK"]["S"], item["SK"]["S"])] = item
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _run(run_id: str, pipeline_id: str = "p1", status: RunStatus = RunStatus.PENDING, **fields: Any) -> RunState:
    fields.setdefault("created_at", NOW)
    fields.setdefault("updated_at", NOW)
    return RunState(run_id=run_id, pipeline_id=pipeline_id, status=status, **fields)


def _run_log(pipeline_id: str, date: str, status: RunStatus = RunStatus.RUNNING, **fields: Any) -> RunLogEntry:
    return RunLogEntry(pipeline_id=pipeline_id, date=date, status=status, started_at=NOW, updated_at=NOW, **fields)


def _event(pipeline_id: str, message: str = "m", **fields: Any) -> Event:
    return Event(kind=EventKind.TRAIT_EVALUATED, pipeline_id=pipeline_id, timestamp=NOW, message=message, **fields)


def _marker(pipeline_id: str, source: str, schedule_id: str = "daily", date: str = "2026-03-02") -> CascadeMarker:
    return CascadeMarker(pipeline_id=pipeline_id, schedule_id=schedule_id, date=date, source=source, timestamp=NOW)


# ------------------------------------------------------------------------------ configuration


def test_config_model_aliases_and_defaults() -> None:
    config = DynamoDBConfig.model_validate(
        {"tableName": "interlock", "region": "eu-west-1", "endpointURL": "http://localhost:8000",
         "createTable": True, "readinessTtl": "1h", "retentionTtl": "168h"}
    )
    assert (config.table_name, config.region, config.endpoint, config.create_table) == (
        "interlock", "eu-west-1", "http://localhost:8000", True)
    assert (config.readiness_ttl, config.retention_ttl) == (timedelta(hours=1), timedelta(days=7))
    default = DynamoDBConfig.model_validate({"tableName": "interlock", "endpoint": "http://x:1"})
    assert (default.endpoint, default.create_table, default.retention_ttl) == ("http://x:1", False, timedelta(days=7))
    for bad in ({}, {"tableName": "x"}, {"tableName": "ok-table", "tableNmae": "typo"},
                {"tableName": "ok-table", "retentionTtl": "-1s"}):
        with pytest.raises(PydanticError):
            DynamoDBConfig.model_validate(bad)


def test_registered_and_created_from_a_section(tmp_path: Any) -> None:
    assert DynamoDBStore in interlock_register_stores()
    assert DynamoDBStore.name == "dynamodb" and DynamoDBStore.config_model is DynamoDBConfig
    clock = FakeClock()
    store = DynamoDBStore.create({"tableName": "interlock", "region": "us-east-1"},
                                 PluginContext(project_dir=tmp_path, clock=clock))
    assert store.table == "interlock" and store.config.region == "us-east-1"
    assert isinstance(store, Store)
    with pytest.raises(ConfigError, match="dynamodb"):
        DynamoDBStore.create({"tableName": "interlock", "bogus": 1}, PluginContext(project_dir=tmp_path))


# ------------------------------------------------------------------------------------ layout


async def test_item_layout(store: DynamoDBStore, admin: Any, table: str) -> None:
    await store.put_pipeline(PipelineConfig(name="p1", archetype="batch-ingestion"))
    trait = TraitEvaluation(pipeline_id="p1", trait_type="freshness", status="PASS", evaluated_at=NOW)
    await store.put_trait(trait, 300)
    await store.put_trait(trait.model_copy(update={"trait_type": "forever"}), None)
    await store.put_readiness(ReadinessResult(pipeline_id="p1", status=ReadinessStatus.READY, evaluated_at=NOW), 60)
    await store.put_run(_run("r1", status=RunStatus.COMPLETED, version=3))
    await store.put_run_log(_run_log("p1", "2026-03-02", schedule_id="", version=2))
    rerun = RerunRecord(rerun_id="rr1", pipeline_id="p1", original_date="2026-03-01", reason="late",
                        status=RunStatus.PENDING, requested_at=NOW)
    await store.put_rerun(rerun)
    cursor = await store.append_event(_event("p1"))
    await store.write_cascade_marker(_marker("p2", "p1", schedule_id="h14"))
    await store.acquire_lease("eval:p1:daily", "owner-a", 30)

    found = _items(admin, table)
    pipeline = found[("PIPELINE#p1", "CONFIG")]
    assert (pipeline["GSI1PK"]["S"], pipeline["GSI1SK"]["S"]) == ("TYPE#pipeline", "PIPELINE#p1")
    assert "ttl" not in pipeline and PipelineConfig.model_validate_json(pipeline["data"]["S"]).name == "p1"
    assert found[("PIPELINE#p1", "TRAIT#freshness")]["ttl"] == {"N": str(EPOCH + 300)}
    assert "ttl" not in found[("PIPELINE#p1", "TRAIT#forever")]
    assert found[("PIPELINE#p1", "READINESS")]["ttl"] == {"N": str(EPOCH + 60)}

    truth = found[("RUN#r1", "RUN#r1")]
    assert truth["version"] == {"N": "3"} and truth["ttl"] == {"N": str(EPOCH + WEEK)}
    copy = found[("PIPELINE#p1", "RUN#2026-03-02T12:00:00.000000Z#r1")]
    assert copy["data"] == truth["data"] and copy["ttl"] == truth["ttl"] and "version" not in copy

    run_log = found[("PIPELINE#p1", "RUNLOG#2026-03-02#daily")]
    assert run_log["version"] == {"N": "2"} and run_log["ttl"] == {"N": str(EPOCH + WEEK + DAY)}

    rerun_truth = found[("RERUN#rr1", "RERUN#rr1")]
    assert rerun_truth["GSI1PK"] == {"S": "TYPE#rerun"}
    assert rerun_truth["GSI1SK"] == {"S": "2026-03-02T12:00:00.000000Z#rr1"}
    assert rerun_truth["ttl"] == {"N": str(EPOCH + WEEK + DAY)}  # not finished: a day longer
    assert ("PIPELINE#p1", "RERUN#2026-03-02T12:00:00.000000Z#rr1") in found

    assert cursor == "1"
    event = found[("PIPELINE#p1", "EVENT#00000000000000000001")]
    assert event["kind"] == {"S": "TRAIT_EVALUATED"} and event["ttl"] == {"N": str(EPOCH + WEEK)}
    assert found[("PIPELINE#p1", "EVENTSEQ")]["seq"] == {"N": "1"}

    marker = found[("PIPELINE#p2", "MARKER#cascade#2026-03-02#h14#p1")]
    assert {name: marker[name]["S"] for name in ("scheduleID", "date", "source", "pipelineID")} == {
        "scheduleID": "h14", "date": "2026-03-02", "source": "p1", "pipelineID": "p2"}
    assert marker["ttl"] == {"N": str(EPOCH + WEEK)}
    assert CascadeMarker.model_validate_json(marker["data"]["S"]) == _marker("p2", "p1", schedule_id="h14")

    lease = found[("LOCK#eval:p1:daily", "LOCK")]
    assert lease["owner"] == {"S": "owner-a"} and lease["ttl"] == {"N": str(EPOCH + 30)}


async def test_created_table_has_stream_gsi_and_ttl(store: DynamoDBStore, admin: Any, table: str) -> None:
    described = admin.describe_table(TableName=table)["Table"]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    [index] = described["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "GSI1" and index["Projection"] == {"ProjectionType": "ALL"}
    ttl = admin.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ttl")
    await store.start()  # the table exists now: starting again is fine
    assert await store.ping() is True


async def test_cascade_markers_reach_the_stream(
    store: DynamoDBStore, admin: Any, table: str, moto_server: MotoServer
) -> None:
    await store.put_trait(TraitEvaluation(pipeline_id="down", trait_type="t", status="PASS", evaluated_at=NOW), 60)
    await store.write_cascade_marker(_marker("down", "up-a", schedule_id="h14"))
    await store.write_cascade_marker(_marker("down", "up-a", schedule_id="h14"))  # idempotent: no new record
    await store.write_cascade_marker(_marker("down", "up-b"))
    arn = admin.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams", endpoint_url=moto_server.url, region_name=FAKE_REGION)
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records.extend(streams.get_records(ShardIterator=iterator)["Records"])
    markers = [r for r in records if r["dynamodb"]["Keys"]["SK"]["S"].startswith("MARKER#")]
    assert [r["eventName"] for r in markers] == ["INSERT", "INSERT"]
    images = [r["dynamodb"]["NewImage"] for r in markers]
    assert [(i["PK"]["S"], i["scheduleID"]["S"], i["date"]["S"], i["source"]["S"]) for i in images] == [
        ("PIPELINE#down", "h14", "2026-03-02", "up-a"),
        ("PIPELINE#down", "daily", "2026-03-02", "up-b"),
    ]
    assert all(r["dynamodb"]["StreamViewType"] == "NEW_IMAGE" for r in markers)


# -------------------------------------------------------------------------------- pagination


async def test_queries_follow_pages(make_store: Any, admin: Any, table: str) -> None:
    """Every query follows LastEvaluatedKey: with 10 items a page, 301 events take 31 pages.

    The events are loaded with BatchWriteItem in the store's own item layout: moto copies the
    whole table on every TransactWriteItems, which makes 300 appends slow there (not on AWS)."""
    store: DynamoDBStore = make_store(page_size=10)
    await store.start()
    try:
        for i in range(30):
            await store.put_run(_run(f"run-{i:02}", "paged", created_at=NOW + timedelta(seconds=i)))
            await store.put_pipeline(PipelineConfig(name=f"pipe-{i:02}", archetype="a"))
        runs = await store.list_runs("paged", 25)
        assert [r.run_id for r in runs] == [f"run-{i:02}" for i in range(29, 4, -1)]
        assert [p.name for p in await store.list_pipelines()] == [f"pipe-{i:02}" for i in range(30)]

        events = [items.event_item(_event("paged", f"m{i}"), i + 1, None) for i in range(300)]
        events.append({**items.key("PIPELINE#paged", "EVENTSEQ"), "seq": items.number(300)})
        for start in range(0, len(events), 25):
            batch = [{"PutRequest": {"Item": item}} for item in events[start:start + 25]]
            admin.batch_write_item(RequestItems={table: batch})
        assert await store.append_event(_event("paged", "m300")) == "301"
        listed = await store.list_events("paged", 301)
        assert [e.message for e in listed] == [f"m{i}" for i in range(301)]
        assert [e.message for e in await store.list_events("paged", 3)] == ["m298", "m299", "m300"]
        since = await store.read_events_since("paged", "250", 100)
        assert [r.stream_id for r in since] == [str(i) for i in range(251, 302)]
        everything = await store.read_events_since("paged", None, 1000)
        assert [r.stream_id for r in everything] == [str(i) for i in range(1, 302)]
    finally:
        await store.close()


async def test_more_than_a_megabyte_is_read_in_pages(store: DynamoDBStore) -> None:
    """DynamoDB answers at most 1 MB per query; moto enforces that too."""
    bulk = "x" * 150_000
    for i in range(10):
        trait = TraitEvaluation(pipeline_id="big", trait_type=f"t{i}", status="PASS", evaluated_at=NOW,
                                value={"bulk": bulk})
        await store.put_trait(trait, None)
    listed = await store.list_traits("big")
    assert [t.trait_type for t in listed] == [f"t{i}" for i in range(10)]


async def test_event_cursors_are_bounded_to_events(store: DynamoDBStore) -> None:
    """Items sorting after ``EVENT#`` in the partition (markers, readiness, runs, run logs,
    reruns, traits) never come back as events."""
    first = await store.append_event(_event("mixed", "one"))
    await store.write_cascade_marker(_marker("mixed", "up"))
    await store.put_readiness(ReadinessResult(pipeline_id="mixed", status=ReadinessStatus.READY, evaluated_at=NOW), 60)
    await store.put_run(_run("mixed-run", "mixed"))
    await store.put_run_log(_run_log("mixed", "2026-03-02"))
    await store.put_trait(TraitEvaluation(pipeline_id="mixed", trait_type="t", status="PASS", evaluated_at=NOW), 60)
    await store.put_rerun(RerunRecord(rerun_id="mixed-rr", pipeline_id="mixed", original_date="2026-03-01",
                                      reason="r", status=RunStatus.PENDING, requested_at=NOW))
    second = await store.append_event(_event("mixed", "two"))
    assert [r.event.message for r in await store.read_events_since("mixed", first)] == ["two"]
    assert await store.read_events_since("mixed", second) == []
    assert [e.message for e in await store.list_events("mixed")] == ["one", "two"]
    for bad in ("abc", "-1", "1-0", "²"):
        with pytest.raises(ValidationError, match="cursor"):
            await store.read_events_since("mixed", bad)


async def test_two_stores_share_one_event_log(make_store: Any) -> None:
    """Appends from two processes race for sequence numbers; the loser takes the next one."""
    a, b = make_store(), make_store()
    await a.start()
    await b.start()
    try:
        async with anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(a.append_event, _event("shared", f"a{i}"))
                tg.start_soon(b.append_event, _event("shared", f"b{i}"))
        records = await b.read_events_since("shared", None)
        assert [r.stream_id for r in records] == [str(i) for i in range(1, 17)]
        assert sorted(r.event.message or "" for r in records) == sorted(
            [f"a{i}" for i in range(8)] + [f"b{i}" for i in range(8)])
        assert await a.append_event(_event("shared", "last")) == "17"
        assert await b.append_event(_event("shared", "after")) == "18"  # b's cached number was stale
    finally:
        await a.close()
        await b.close()


# ------------------------------------------------------------------------ expiry and retention


async def test_expired_items_are_absent_though_moto_keeps_them(
    store: DynamoDBStore, clock: FakeClock, admin: Any, table: str
) -> None:
    await store.put_trait(TraitEvaluation(pipeline_id="exp", trait_type="t", status="PASS", evaluated_at=NOW), 10)
    await store.put_run(_run("exp-done", "exp", RunStatus.COMPLETED))
    await store.put_run(_run("exp-open", "exp", RunStatus.RUNNING))
    await store.put_run_log(_run_log("exp", "2026-03-01", RunStatus.COMPLETED))
    await store.append_event(_event("exp", "old"))
    await store.write_cascade_marker(_marker("exp", "up"))
    assert await store.acquire_lease("exp-lease", "owner-a", 5)
    clock.advance(11)
    assert await store.get_trait("exp", "t") is None and await store.list_traits("exp") == []
    assert await store.lease_owner("exp-lease") is None
    assert await store.acquire_lease("exp-lease", "owner-b", 5) is True

    clock.advance(WEEK)
    assert await store.get_run("exp-done") is None
    assert [r.run_id for r in await store.list_runs("exp")] == ["exp-open"]
    assert await store.get_run_log("exp", "2026-03-01", "daily") is None
    assert await store.list_events("exp") == []
    assert await store.list_cascade_markers("exp", "2026-03-02", "daily") == []
    assert await store.cas_run(_run("exp-done", "exp", RunStatus.FAILED, version=2), 1) is False
    assert await store.create_run(_run("exp-done", "exp")) is True  # an expired run is absent
    assert await store.cas_run_log(_run_log("exp", "2026-03-01"), None) is True
    await store.write_cascade_marker(_marker("exp", "up"))
    assert [m.source for m in await store.list_cascade_markers("exp", "2026-03-02", "daily")] == ["up"]
    assert [r.stream_id for r in await store.read_events_since("exp", None)] == []
    assert await store.append_event(_event("exp", "new")) == "2"  # cursors go on after expiry

    clock.advance(DAY)
    assert await store.get_run("exp-open") is None
    assert ("PIPELINE#exp", "TRAIT#t") in _items(admin, table)  # still stored, just not alive


async def test_zero_retention_keeps_history(make_store: Any, admin: Any, table: str, clock: FakeClock) -> None:
    store: DynamoDBStore = make_store(retention_ttl=0)
    await store.start()
    try:
        await store.put_run(_run("keep", status=RunStatus.COMPLETED))
        await store.append_event(_event("keep"))
        clock.advance(365 * DAY)
        assert await store.get_run("keep") is not None
        assert len(await store.list_events("keep")) == 1
        assert "ttl" not in _items(admin, table)[("RUN#keep", "RUN#keep")]
    finally:
        await store.close()


async def test_unreadable_items_are_skipped(store: DynamoDBStore, admin: Any, table: str) -> None:
    await store.put_run(_run("good", "p1"))
    admin.put_item(TableName=table, Item={"PK": {"S": "RUN#bad"}, "SK": {"S": "RUN#bad"}, "data": {"S": "{nope"}})
    admin.put_item(TableName=table, Item={"PK": {"S": "PIPELINE#p1"}, "SK": {"S": "RUN#9999#bad"},
                                          "data": {"S": "{nope"}})
    assert await store.get_run("bad") is None
    assert [r.run_id for r in await store.list_runs("p1")] == ["good"]


async def test_oversized_item_is_a_validation_error(store: DynamoDBStore) -> None:
    huge = TraitEvaluation(pipeline_id="huge", trait_type="t", status="PASS", evaluated_at=NOW,
                           value={"bulk": "x" * 500_000})
    with pytest.raises(ValidationError, match="size"):
        await store.put_trait(huge, None)
    assert await store.get_trait("huge", "t") is None


# ----------------------------------------------------------------------------------- outages


async def test_closed_port_is_store_unavailable(aws_session: aioboto3.Session) -> None:
    store = DynamoDBStore(table_name="interlock", endpoint=f"http://127.0.0.1:{_free_port()}",
                          region=FAKE_REGION, session=aws_session, max_attempts=1, connect_timeout=2)
    with pytest.raises(StoreUnavailable, match="not started"):
        await store.get_run("x")
    assert await store.ping() is False
    with pytest.raises(StoreUnavailable, match="interlock") as caught:
        await store.start()
    assert caught.value.status_code == 503
    await store.close()


async def test_server_gone_after_start_is_store_unavailable(
    aws_session: aioboto3.Session, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = MotoServer().start()
    fake_aws_environment(monkeypatch, server)
    store = DynamoDBStore(table_name="interlock-gone", endpoint=server.url, region=FAKE_REGION, create_table=True,
                          clock=clock, session=aws_session, max_attempts=1, connect_timeout=2, read_timeout=2)
    try:
        await store.start()
        await store.put_pipeline(PipelineConfig(name="p1", archetype="a"))
        server.stop()
        assert await store.ping() is False
        with pytest.raises(StoreUnavailable, match="interlock-gone"):
            await store.put_pipeline(PipelineConfig(name="p1", archetype="a"))
        with pytest.raises(StoreUnavailable):
            await store.list_runs("p1")
    finally:
        await store.close()
    with pytest.raises(StoreUnavailable, match="closed"):
        await store.get_pipeline("p1")


async def test_missing_table_is_store_unavailable_naming_it(make_store: Any, table: str) -> None:
    store: DynamoDBStore = make_store(create_table=False)
    with pytest.raises(StoreUnavailable, match=rf"{table}.*does not exist"):
        await store.start()
    await store.close()


async def test_table_of_another_layout_is_refused(make_store: Any, admin: Any, table: str) -> None:
    admin.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                       AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                       KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    with pytest.raises(StoreUnavailable, match="does not fit"):
        await make_store(create_table=False).start()


def test_error_translation() -> None:
    def client_error(code: str, status: int = 400, **extra: Any) -> ClientError:
        response = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}, **extra}
        return ClientError(response, "PutItem")

    assert "region" in str(translate(NoRegionError(), "t", "start"))
    for unavailable in (client_error("ProvisionedThroughputExceededException"), client_error("ThrottlingException"),
                        client_error("InternalServerError", 500), client_error("ServiceUnavailable", 503),
                        client_error("UnrecognizedClientException"),
                        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), OSError("reset")):
        assert isinstance(translate(unavailable, "t", "put_item"), StoreUnavailable)
    assert isinstance(translate(client_error("ValidationException"), "t", "put_item"), ValidationError)
    assert isinstance(translate(client_error("ConditionalCheckFailedException"), "t", "put_item"), ConditionFailed)
    cancelled = "TransactionCanceledException"
    assert isinstance(translate(client_error(cancelled, CancellationReasons=[
        {"Code": "ConditionalCheckFailed"}, {"Code": "None"}]), "t", "x"), ConditionFailed)
    assert isinstance(translate(client_error(cancelled, CancellationReasons=[
        {"Code": "None"}, {"Code": "TransactionConflict"}]), "t", "x"), TransactionConflict)
    assert isinstance(translate(client_error(cancelled, CancellationReasons=[
        {"Code": "ThrottlingError"}]), "t", "x"), StoreUnavailable)
