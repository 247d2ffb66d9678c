"""Records kept by their stored text: the same record as parsing, each caller its own copy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from interlock_core.model import TraitEvaluation
from interlock_core.model.parsed import ParsedRecords
from interlock_core.model.records import format_timestamp
from interlock_core.unit_of_work import config_version

ROW = ('{"pipelineId":"p","traitType":"t","status":"PASS","value":{"n":1},'
       '"evaluatedAt":"2026-01-02T03:04:05.5Z","source":"pushed","later":"ignored"}')


def test_a_kept_record_equals_a_parsed_one_and_is_a_copy() -> None:
    parsed = ParsedRecords(TraitEvaluation)
    first, second = parsed.load(ROW), parsed.load(ROW)
    assert first == second == TraitEvaluation.model_validate_json(ROW)
    assert first is not second
    first.status = "FAIL"
    assert parsed.load(ROW).status == "PASS"
    assert parsed.load(ROW).to_json() == TraitEvaluation.model_validate_json(ROW).to_json()


def test_unreadable_text_raises_and_is_not_kept() -> None:
    parsed = ParsedRecords(TraitEvaluation)
    with pytest.raises(ValidationError):
        parsed.load('{"pipelineId":"p"}')
    with pytest.raises(ValidationError):
        parsed.load('{"pipelineId":"p"}')


def test_the_kept_records_are_bounded() -> None:
    parsed = ParsedRecords(TraitEvaluation, limit=2)
    for n in range(5):
        assert parsed.load(ROW.replace('"t"', f'"t{n}"')).trait_type == f"t{n}"
    assert len(parsed._kept) <= 2


def test_config_version_is_the_digest_of_the_text_every_time() -> None:
    for _ in range(2):
        assert config_version("a: 1") == config_version(b"a: 1") == "b26f75cdc394ee5c05e216fc8e31077870c596a0"
    assert config_version("a: 1") != config_version("a: 2")
    assert config_version("a: 1") == config_version("a: 1")


def test_format_timestamp_is_the_same_in_any_zone_and_repeated() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC)
    plus_two = at.astimezone(timezone(timedelta(hours=2)))
    for _ in range(2):
        assert format_timestamp(at) == format_timestamp(plus_two) == "2026-01-02T03:04:05.12Z"
        assert format_timestamp(at.replace(tzinfo=None)) == "2026-01-02T03:04:05.12Z"
        assert format_timestamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-3)))) == \
            "2026-01-02T06:04:05Z"


def test_format_instant_writes_what_format_timestamp_writes_without_keeping_it() -> None:
    from interlock_core.model import records

    instants = [datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=timezone(timedelta(hours=2))),
                datetime(2026, 1, 2, 3, 4, 5, 999999), datetime(999, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)]
    for at in instants:
        fresh = at + timedelta(days=1234)  # an instant not formatted before
        text = records.format_instant(fresh)
        assert records._utc(fresh) not in records._FORMATTED, "format_instant keeps nothing"
        assert text == records.format_timestamp(fresh) == records.format_instant(fresh)
