"""Short texts the redaction pass found clean are remembered (:data:`redaction._clean_texts`):
the same text is answered the same way twice, a text that held a secret is never remembered
and is masked every time, the memory is bounded, and a trigger's expanded values (an active
pattern) are honoured even for a text remembered clean without them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from interlock_core import redaction
from interlock_core.expanded import expanded_scope
from interlock_core.redaction import MASK, redact, redact_text


@pytest.fixture(autouse=True)
def _empty_memory() -> Iterator[None]:
    redaction._clean_texts.clear()
    yield
    redaction._clean_texts.clear()


def test_the_same_text_is_answered_identically_twice() -> None:
    for text in ("READY", "bench-readiness", "2026-12-06T18:49:40.886437Z", "/api/pipelines/p/readiness",
                 "a message: with words"):
        first = redact_text(text)
        assert text in redaction._clean_texts
        assert redact_text(text) == first == text


def test_a_text_holding_a_secret_is_masked_every_time_and_never_remembered() -> None:
    for text, masked in (("/api/pipelines/token=abc/readiness", f"/api/pipelines/token={MASK}"),
                         ("AKIAIOSFODNN7EXAMPLE", MASK), ("Bearer abcdefgh12345", f"Bearer {MASK}"),
                         ("https://u:p@host/x?k=v", f"https://{MASK}@host/x?k={MASK}")):
        assert redact_text(text) == masked
        assert redact_text(text) == masked
        assert text not in redaction._clean_texts
        assert redact({"path": text, "items": [text]}) == {"path": masked, "items": [masked]}


def test_the_memory_is_bounded() -> None:
    for i in range(redaction.CLEAN_TEXTS_SIZE * 2 + 10):
        redact_text(f"name-{i}")
        assert len(redaction._clean_texts) <= redaction.CLEAN_TEXTS_SIZE
    long = "x" * (redaction.CLEAN_TEXT_LENGTH + 1)
    assert redact_text(long) == long
    assert long not in redaction._clean_texts


def test_an_active_pattern_is_honoured_for_a_text_remembered_clean() -> None:
    assert redact_text("orch-s3cr3t-value") == "orch-s3cr3t-value"
    assert "orch-s3cr3t-value" in redaction._clean_texts
    with expanded_scope(["orch-s3cr3t-value"]):
        assert redact_text("orch-s3cr3t-value") == MASK
        assert redact({"reason": "orch-s3cr3t-value"}) == {"reason": MASK}
        assert redact_text("x/orch-s3cr3t-value/y") == f"x/{MASK}/y"
        assert "x/orch-s3cr3t-value/y" not in redaction._clean_texts  # nothing remembered under a pattern
    with expanded_scope(["another-expanded-value"]):
        assert redact_text("orch-s3cr3t-value") == "orch-s3cr3t-value"
        assert redact_text("another-expanded-value") == MASK
    assert redact_text("orch-s3cr3t-value") == "orch-s3cr3t-value"


class Named(str):
    """A str subclass: never answered from the memory, masked as a string."""


def test_a_str_subclass_is_masked_and_not_remembered() -> None:
    assert redact_text(Named("plain")) == "plain"
    assert redact_text(Named("token=abc")) == f"token={MASK}"
    assert not redaction._clean_texts
