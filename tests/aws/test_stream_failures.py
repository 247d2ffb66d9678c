"""Partial batch failures of the stream-router (``ReportBatchItemFailures``), against moto in server
mode: real marker items written to a DynamoDB table, the records read back from its stream, given
to the real handler, which starts executions through boto3 on moto's Step Functions. One marker is
poisoned: moto refuses to start its execution. The others must start, and the reply must name only
the poisoned record's sequence number, so Lambda retries from there instead of the whole batch."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from interlock_server.aws import stream_router
from tests.moto_server import FAKE_ACCOUNT, FAKE_REGION, MotoServer, fake_aws_environment

POISONED = "poisoned"
MACHINE = {"StartAt": "Hold", "States": {"Hold": {"Type": "Pass", "End": True}}}


@dataclass
class StreamWorld:
    moto: MotoServer
    table: str
    state_machine_arn: str

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=FAKE_REGION, endpoint_url=self.moto.url)

    def put_marker(self, pipeline: str, source: str = "landing") -> None:
        self.client("dynamodb").put_item(TableName=self.table, Item={
            "PK": {"S": f"PIPELINE#{pipeline}"}, "SK": {"S": f"MARKER#{source}#{uuid.uuid4().hex[:6]}"},
            "date": {"S": "2026-03-02"}})

    def put_other(self, pipeline: str) -> None:
        self.client("dynamodb").put_item(TableName=self.table, Item={
            "PK": {"S": f"PIPELINE#{pipeline}"}, "SK": {"S": "TRAIT#source-freshness"}})

    def stream_records(self) -> list[dict[str, Any]]:
        """Every record of the table's stream so far, as the event source mapping would hand them over."""
        streams = self.client("dynamodbstreams")
        arn = self.client("dynamodb").describe_table(TableName=self.table)["Table"]["LatestStreamArn"]
        records: list[dict[str, Any]] = []
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            records += streams.get_records(ShardIterator=iterator)["Records"]
        # the Lambda event carries the same fields; the handler reads eventName and dynamodb
        return json.loads(json.dumps(records, default=str))

    def executions(self) -> dict[str, dict[str, Any]]:
        """Started executions by pipeline id (the input the stream-router gave them)."""
        sfn = self.client("stepfunctions")
        found: dict[str, dict[str, Any]] = {}
        for item in sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]:
            described = sfn.describe_execution(executionArn=item["executionArn"])
            execution_input = json.loads(described["input"])
            assert execution_input["pipelineId"] not in found, "one execution per marker"
            found[execution_input["pipelineId"]] = execution_input
        return found


@pytest.fixture
def world(aws_moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[StreamWorld]:
    fake_aws_environment(monkeypatch, aws_moto_server)
    aws_moto_server.reset()
    aws_moto_server.configure({"stepfunctions": {"execute_state_machine": False}})  # executions stay RUNNING
    table = f"interlock-{uuid.uuid4().hex[:8]}"
    ddb = boto3.client("dynamodb", region_name=FAKE_REGION, endpoint_url=aws_moto_server.url)
    ddb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"},
                              {"AttributeName": "SK", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    sfn = boto3.client("stepfunctions", region_name=FAKE_REGION, endpoint_url=aws_moto_server.url)
    arn = sfn.create_state_machine(name="interlock-pipeline", definition=json.dumps(MACHINE), type="STANDARD",
                                   roleArn=f"arn:aws:iam::{FAKE_ACCOUNT}:role/interlock")["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_moto_server.url)
    monkeypatch.setattr(stream_router, "_client", None)
    yield StreamWorld(aws_moto_server, table, arn)
    monkeypatch.setattr(stream_router, "_client", None)


def poison(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """moto's Step Functions refuses every execution of the poisoned pipeline (a 400, not retried)
    for as long as the returned set holds its name."""
    from moto.stepfunctions.exceptions import InvalidExecutionInput
    from moto.stepfunctions.models import StepFunctionBackend

    refused = {POISONED}
    original = StepFunctionBackend.start_execution

    def start_execution(self: Any, state_machine_arn: str, name: str, execution_input: str) -> Any:
        if json.loads(execution_input).get("pipelineId") in refused:
            raise InvalidExecutionInput("refused for this test")
        return original(self, state_machine_arn, name, execution_input)

    monkeypatch.setattr(StepFunctionBackend, "start_execution", start_execution)
    return refused


def sequence_of(records: list[dict[str, Any]], pipeline: str) -> str:
    (number,) = [r["dynamodb"]["SequenceNumber"] for r in records
                 if r["dynamodb"]["Keys"]["PK"]["S"] == f"PIPELINE#{pipeline}"]
    return str(number)


def test_a_poisoned_record_fails_alone_and_the_rest_of_the_batch_is_processed(
    world: StreamWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.put_marker("orders")
    world.put_marker(POISONED)
    world.put_other("orders")  # not a marker: skipped, never a failure
    world.put_marker("invoices")
    records = world.stream_records()
    assert len(records) == 4
    refused = poison(monkeypatch)

    reply = stream_router.handler({"Records": records}, None)

    assert reply["batchItemFailures"] == [{"itemIdentifier": sequence_of(records, POISONED)}]
    assert set(world.executions()) == {"orders", "invoices"}  # the records after the poisoned one too
    assert len(reply["started"]) == 2 and reply["skipped"] == 1 and reply["deduplicated"] == []

    # Lambda retries from the named record: the poisoned one and everything after it. Once moto
    # accepts it again, only the missing execution is added (the others deduplicate by name).
    refused.clear()
    retry = records[[r["dynamodb"]["SequenceNumber"] for r in records].index(sequence_of(records, POISONED)):]
    again = stream_router.handler({"Records": retry}, None)
    assert again["batchItemFailures"] == []
    executions = world.executions()
    assert set(executions) == {"orders", "invoices", POISONED}
    assert executions[POISONED]["date"] == "2026-03-02" and executions[POISONED]["markerSource"] == "landing"


def test_a_failed_record_without_a_sequence_number_fails_the_whole_batch(
    world: StreamWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.put_marker("orders")
    world.put_marker(POISONED)
    records = world.stream_records()
    del records[1]["dynamodb"]["SequenceNumber"]
    poison(monkeypatch)
    with pytest.raises(RuntimeError, match="starting execution for poisoned"):
        stream_router.handler({"Records": records}, None)
    assert set(world.executions()) == {"orders"}  # the healthy marker was still started


def test_a_record_the_router_cannot_read_fails_alone(world: StreamWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    world.put_marker("orders")
    world.put_marker(POISONED)
    records = world.stream_records()
    real_route = stream_router.route

    def route(record: Any, today: str) -> Any:
        if record["dynamodb"]["Keys"]["PK"]["S"] == f"PIPELINE#{POISONED}":
            raise KeyError("unexpected record shape")
        return real_route(record, today)

    monkeypatch.setattr(stream_router, "route", route)
    reply = stream_router.handler({"Records": records}, None)
    assert reply["batchItemFailures"] == [{"itemIdentifier": sequence_of(records, POISONED)}]
    assert set(world.executions()) == {"orders"}
