"""Helpers of the ``dynamodb`` store tests: a moto server whose DynamoDB is atomic per request.

moto's server handles requests on several threads, but its DynamoDB backend takes no lock: two
conditional writes may both pass their check, and a cancelled ``TransactWriteItems`` restores a
copy of the whole table taken when it began, discarding what other requests wrote meanwhile.
Real DynamoDB makes every request atomic, which is what the store relies on, so these tests run
moto's DynamoDB requests one at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.moto_server import MotoServer


@contextmanager
def serialized_dynamodb() -> Iterator[None]:
    """While active, moto handles one DynamoDB request at a time."""
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DynamoHandler, "call_action", call_action)
        yield


@contextmanager
def dynamodb_moto_server() -> Iterator[MotoServer]:
    """A moto server for a test module, DynamoDB requests serialized."""
    with serialized_dynamodb(), MotoServer() as server:
        yield server
