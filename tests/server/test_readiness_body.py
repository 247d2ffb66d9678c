"""The readiness GET's body rendered from kept parts (:mod:`interlock_server.readiness_body`): byte for
byte what the one JSON response renders of the same answer (redaction pass included), for every
state word and instant, kept only for the same list of trait results, never inside a trigger's
expanded scope. Pure rendering: results built here, no server."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from interlock_core.expanded import expanded_scope
from interlock_core.model import ReadinessResult, ReadinessStatus, TraitEvaluation
from interlock_core.model.parsed import with_evaluated_at
from interlock_core.pipeline_state import PipelineState
from interlock_server.readiness_body import ReadinessBodies
from interlock_server.responses import render_json

T0 = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)


def generic(result: ReadinessResult, state: PipelineState) -> bytes:
    """What the route answered before parts were kept: the result's JSON, then ``state``."""
    return render_json({**result.to_json_dict(), "state": state.value})


def result(**extra: object) -> ReadinessResult:
    traits = [
        TraitEvaluation(pipeline_id="orders", trait_type="freshness", status="PASS", evaluated_at=T0,
                        expires_at=T0 + timedelta(hours=1), value={"lagSeconds": 12.5, "rows": 10**20,
                                                                  "password": "hunter2", "note": "café ✓"},
                        source="pushed"),
        TraitEvaluation(pipeline_id="orders", trait_type="volume", status="FAIL", evaluated_at=T0,
                        reason="see https://user:pw@db.example/?token=abc and password=s3cret",
                        failure_category="TRANSIENT"),
    ]
    fields: dict[str, object] = {"pipeline_id": "orders", "status": ReadinessStatus.NOT_READY, "traits": traits,
                                 "blocking": ["volume"], "evaluated_at": T0, **extra}
    return ReadinessResult.model_validate(fields)


@pytest.mark.parametrize("extra", [{}, {"schedule_id": "evening", "date": "2026-03-02",
                                        "excluded": "2026-03-02 is a holiday"}])
def test_every_answer_is_what_the_json_response_renders(extra: dict[str, object]) -> None:
    bodies = ReadinessBodies()
    kept = result(**extra)
    rng = random.Random(20)
    for n in range(40):  # the first renders in full, the second keeps the parts, the rest use them
        at = T0 + timedelta(seconds=n, microseconds=rng.choice([0, 1, 120000, 999999]))
        answer = with_evaluated_at(kept, at)
        state = rng.choice(list(PipelineState))
        assert bodies.render(answer, state) == generic(answer, state)
    body = bodies.render(with_evaluated_at(kept, T0), PipelineState.NOT_READY)
    assert b"hunter2" not in body and b"s3cret" not in body and b"pw@" not in body
    assert "café ✓".encode() in body


def test_parts_are_kept_for_the_same_list_only() -> None:
    bodies = ReadinessBodies()
    kept = result()
    for _ in range(3):
        bodies.render(with_evaluated_at(kept, T0), PipelineState.NOT_READY)
    changed = result()
    changed.traits[1].reason = "a new reason"  # another list: rendered from its own results
    assert b"a new reason" in bodies.render(changed, PipelineState.NOT_READY)
    blocking = with_evaluated_at(kept, T0)
    blocking.__dict__["blocking"] = ["volume", "freshness"]  # the same list, other fields: not the kept parts
    assert bodies.render(blocking, PipelineState.NOT_READY) == generic(blocking, PipelineState.NOT_READY)


def test_inside_an_expanded_scope_the_redaction_pass_masks_its_values() -> None:
    bodies = ReadinessBodies()
    kept = result()
    for _ in range(3):
        bodies.render(with_evaluated_at(kept, T0), PipelineState.NOT_READY)
    with expanded_scope(["db.example"]):
        body = bodies.render(with_evaluated_at(kept, T0), PipelineState.NOT_READY)
        assert body == generic(with_evaluated_at(kept, T0), PipelineState.NOT_READY)
    assert b"db.example" not in body
    assert b"db.example" in bodies.render(with_evaluated_at(kept, T0), PipelineState.NOT_READY)


def test_past_its_limit_the_keeping_starts_again() -> None:
    bodies = ReadinessBodies(limit=2)
    answers = [result(pipeline_id=name) for name in ("a", "b", "c")]
    for answer in answers * 3:
        assert bodies.render(answer, PipelineState.READY) == generic(answer, PipelineState.READY)
    assert len(bodies._kept) <= 2
