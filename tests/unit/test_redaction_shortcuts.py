"""The redaction pass's shortcuts mask exactly what the full pass masks: a plain word, id, path or
timestamp skips the patterns it cannot match (an AWS access key id still can), dict and list
values are walked by type, and key names are classified once. Each case is checked against the
full pass (every pattern applied) as well as against the expected text."""

from __future__ import annotations

from typing import Any

import pytest

from interlock_core import redaction
from interlock_core.expanded import expanded_scope, mask_active
from interlock_core.redaction import MASK, redact, redact_text


def full_pass(text: str) -> str:
    """Every pattern, in the order redact_text applies them, with no shortcut."""
    text = mask_active(text)
    text = redaction.URL.sub(redaction._masked_url, text)
    text = redaction.PEM.sub(redaction._pem, text)
    text = redaction.ASSIGNED.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = redaction.QUOTED.sub(lambda m: f"{m.group(1)}{redaction._quoted_mask(m.group(2))}", text)
    text = redaction.HEADER_LINE.sub(redaction._header_line, text)
    text = redaction.SCHEME_CREDENTIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return redaction.AWS_KEY_ID.sub(MASK, text)


CASES = [
    ("READY", "READY"),
    ("bench-readiness", "bench-readiness"),
    ("/api/pipelines/bench-readiness/readiness", "/api/pipelines/bench-readiness/readiness"),
    ("2026-12-06T18:49:40.886437Z", "2026-12-06T18:49:40.886437Z"),
    ("2026-12-06T18:49:40+02:00", "2026-12-06T18:49:40+02:00"),
    ("2026-12-06", "2026-12-06"),
    ("AKIAIOSFODNN7EXAMPLE", MASK),
    ("keys/AKIAIOSFODNN7EXAMPLE/old", f"keys/{MASK}/old"),
    ("authorization:abc123", f"authorization:{MASK}"),
    ("X-Api-Key:abc123", f"X-Api-Key:{MASK}"),
    ("token=abc123", f"token={MASK}"),
    ("Bearer abcdefgh12345", f"Bearer {MASK}"),
    ("https://u:p@host/x?k=v", f"https://{MASK}@host/x?k={MASK}"),
    ("2026-12-06T18:49:40Z token=abc", f"2026-12-06T18:49:40Z token={MASK}"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_shortcuts_mask_what_the_full_pass_masks(text: str, expected: str) -> None:
    assert redact_text(text) == expected
    assert redact_text(text) == full_pass(text)


def test_values_expanded_by_a_running_trigger_are_masked_in_plain_words_too() -> None:
    with expanded_scope(["orch-s3cr3t-value"]):
        assert redact_text("orch-s3cr3t-value") == MASK
        assert redact_text("x/orch-s3cr3t-value/y") == f"x/{MASK}/y"
    assert redact_text("orch-s3cr3t-value") == "orch-s3cr3t-value"


class Named(str):
    """A str subclass (an enum value, a name type): walked as a string."""


def test_structures_are_walked_as_before() -> None:
    from collections import OrderedDict

    value: dict[str, Any] = {
        "status": "PASS", "count": 3, "ratio": 0.5, "ok": True, "none": None,
        "password": "hunter22", "emptyPassword": "", "requestHeaders": {"Accept": "a/b", "X-Custom": "s3cr3t"},
        "traits": {"token-freshness": {"reason": "token=abc"}},
        "items": ["AKIAIOSFODNN7EXAMPLE", ("Bearer abcdefgh12345",)],
        "ordered": OrderedDict(secret="x", plain="y"), "named": Named("token=abc"),
    }
    assert redact(value) == {
        "status": "PASS", "count": 3, "ratio": 0.5, "ok": True, "none": None,
        "password": MASK, "emptyPassword": "", "requestHeaders": {"Accept": "a/b", "X-Custom": MASK},
        "traits": {"token-freshness": {"reason": f"token={MASK}"}},
        "items": [MASK, [f"Bearer {MASK}"]],
        "ordered": {"secret": MASK, "plain": "y"}, "named": f"token={MASK}",
    }


class Key(str):
    """A str subclass as a key (an enum member)."""


def test_numbers_and_null_under_credential_keys_are_masked_as_before() -> None:
    assert redact({"token": 12345, "password": None, Key("secret"): 0, "count": 2, 3: True}) == {
        "token": MASK, "password": None, Key("secret"): MASK, "count": 2, 3: True}
