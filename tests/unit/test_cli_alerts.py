"""``interlock alerts list`` and ``interlock alerts retry`` as a user drives them: a webhook that
refuses an alert leaves a dead letter; once it answers again, a retry delivers it. Real processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.helpers.webhook import webhook_server
from tests.unit.test_cli_validate import interlock


def test_a_dead_letter_is_listed_and_a_retry_delivers_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert interlock("init", "proj", cwd=tmp_path).returncode == 0
    project = tmp_path / "proj"
    with webhook_server() as hook:
        config = yaml.safe_load((project / "interlock.yaml").read_text())
        config["alerts"] = [{"type": "webhook", "name": "ops", "url": hook.url + "/alerts", "maxAttempts": 1}]
        (project / "interlock.yaml").write_text(yaml.safe_dump(config))
        hook.status = 500
        monkeypatch.setenv("EXAMPLE_SOURCE_LAG", "999999")  # the example's freshness trait fails
        assert interlock("evaluate", "example", cwd=project).returncode == 1
        assert hook.count == 2  # tried once each on the way out: the trait alert, the blocked alert
        listed = interlock("alerts", "list", "--status", "failed", "--json", cwd=project)
        assert listed.returncode == 0, listed.stderr
        failed = json.loads(listed.stdout)
        assert [(r["sink"], r["status"]) for r in failed] == [("ops", "failed")] * 2
        assert failed[0]["alert"]["message"] == "Pipeline example blocked by: [source-freshness]"
        assert "webhook returned status 500" in failed[0]["lastError"]
        text = interlock("alerts", "list", cwd=project).stdout
        assert f"{failed[0]['id']}  FAILED" in text and "last error: AlertDeliveryError" in text

        hook.status = 200
        retried = interlock("alerts", "retry", failed[0]["id"], "--json", cwd=project)
        assert retried.returncode == 0, retried.stderr
        assert json.loads(retried.stdout)["status"] == "pending"
        assert hook.count == 3 and hook.requests[-1]["body"]["id"] == failed[0]["id"]
        delivered = json.loads(interlock("alerts", "list", "--status", "delivered", "--json", cwd=project).stdout)
        assert [r["id"] for r in delivered] == [failed[0]["id"]]
        again = interlock("alerts", "retry", failed[0]["id"], cwd=project)
        assert again.returncode == 1 and "already delivered" in again.stderr
        assert interlock("alerts", "retry", "nope", cwd=project).returncode == 2
