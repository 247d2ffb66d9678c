"""Run keys, and the proof that a job found under one is ours.

A run key is the idempotency key an orchestrator gets (Airflow ``dag_run_id``, Databricks
``idempotency_token``, Step Functions execution ``name``, EMR Serverless ``clientToken``, the EMR
step name, the http trigger's ``Idempotency-Key``). It is deterministic per (store identity,
pipeline, schedule, cycle, attempt), so a relaunch after a crash between "launched" and "recorded"
hands the orchestrator the same key and finds the job already there instead of starting another.

The store identity (:meth:`interlock_core.ports.Store.store_identity`) makes keys differ between
stores: a fresh store, a second deployment or a test run against the same orchestrator never send
another store's key. Within one store a key can still come back for another run (say the store's
history of a cycle lapsed and the cycle runs again), so a key is never proof enough: every launch
also hands the orchestrator the run id (:data:`OWNER_FIELD` in the DAG run's conf, the job's
parameters, tags or input), and a job found under the key is adopted only when it carries ours.
Anything else is :func:`key_taken`, a PERMANENT failure.
"""

from __future__ import annotations

import re
import secrets

from .errors import LaunchOutcomeUnknown, TriggerError
from .model import FailureCategory

OWNER_FIELD = "interlock_run_id"
"""The name under which a launch hands the orchestrator its run id: its proof of ownership."""

STORE_IDENTITY_LENGTH = 12
_STORE_IDENTITY = re.compile(r"^[0-9a-f]{12}$")


def new_store_identity() -> str:
    """A fresh random store identity (12 hex digits: short enough for every key limit)."""
    return secrets.token_hex(STORE_IDENTITY_LENGTH // 2)


def is_store_identity(text: object) -> bool:
    return isinstance(text, str) and bool(_STORE_IDENTITY.match(text))


def run_key(store_identity: str, pipeline_id: str, schedule_id: str, date: str, attempt: int,
            rerun_id: str | None = None) -> str:
    """``<store>:<pipeline>:<schedule>:<date>[:<rerun>]:<attempt>`` — the idempotency key orchestrators get."""
    base = f"{store_identity}:{pipeline_id}:{schedule_id}:{date}"
    return f"{base}:{rerun_id}:{attempt}" if rerun_id else f"{base}:{attempt}"


def key_taken(what: str, key: str, run_id: str, job: str, found: object = None) -> TriggerError:
    """The key is held by a job that does not carry ``run_id``: not ours, so not adopted.

    ``job`` names what was found (``DAG run x``), ``found`` is the run id it carries (None: none)."""
    carries = f"{OWNER_FIELD} {found!r}" if found else f"no {OWNER_FIELD}"
    return TriggerError(
        f"{what}: launch key {key} is taken by a job Interlock did not start for run {run_id} "
        f"({job} carries {carries}); it is not adopted. A rerun launches under a new key",
        category=FailureCategory.PERMANENT,
    )


def ownership_unknown(what: str, key: str, job: str, cause: TriggerError) -> LaunchOutcomeUnknown:
    """A job may be under the key but could not be read to check it is ours: the run stays
    TRIGGERING and is relaunched under the same key (and checked again) once its lease lapses."""
    return LaunchOutcomeUnknown(
        f"{what}: could not check whether {job} under launch key {key} is this run's ({cause.message}); "
        "the run is launched again under the same key, and checked again, once its lease lapses"
    )
