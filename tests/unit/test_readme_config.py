"""The configuration the README documents loads as written (every section, the DynamoDB store)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from interlock_core.config import load_project
from interlock_server.cli.scaffold import SQLITE_CONFIG, scaffold

README = Path(__file__).resolve().parents[2] / "README.md"
ENV = {"INTERLOCK_API_KEY": "k", "CI_KEY": "a", "OPS_KEY": "b", "VIEWER_KEY": "c",
       "ARCHIVE_DSN": "postgresql://interlock@localhost:5432/archive", "SLACK_BOT_TOKEN": "xoxb-readme"}


def documented_blocks() -> list[str]:
    text = README.read_text()
    start = text.index("Every section and its defaults")
    return re.findall(r"```yaml\n(.*?)```", text[start:text.index("Every configuration error", start)], re.S)


@pytest.mark.parametrize("index", [0, 1])
def test_the_documented_settings_load(tmp_path: Path, index: int) -> None:
    block = documented_blocks()[index]
    (tmp_path / "interlock.yaml").write_text(block if "provider:" in block else "provider: sqlite\n" + block)
    project = load_project(tmp_path, env=ENV)
    if index == 0:
        assert project.config.server.tokens() == ["k", "a", "b"]
        assert project.config.server.read_only_api_keys == ["c"]
        assert project.config.archiver.dsn == ENV["ARCHIVE_DSN"] and project.config.logging.format == "auto"
    else:
        assert project.config.provider == "dynamodb"
        assert getattr(project.store_config, "table_name", None) == "interlock"


def test_the_readme_shows_the_interlock_yaml_init_writes_and_it_validates(tmp_path: Path) -> None:
    """The README's ``interlock.yaml`` sample is the file ``interlock init`` writes, word for word, and
    a project holding it validates with nothing set in the environment."""
    text = README.read_text()
    start = text.index("`interlock.yaml` as `interlock init` writes it")
    sample = re.search(r"```yaml\n(.*?)```", text[start:], re.S)
    assert sample is not None
    assert sample.group(1) == SQLITE_CONFIG
    scaffold(tmp_path, store="sqlite")
    assert (tmp_path / "interlock.yaml").read_text() == sample.group(1)
    project = load_project(tmp_path, env={})
    assert project.config.server.addr == "127.0.0.1:3000" and project.config.server.tokens() == []
    assert [name for name, _ in project.alert_configs] == ["console", "file"]


def test_the_documented_alerts_load(tmp_path: Path) -> None:
    block = documented_blocks()[0]
    (tmp_path / "interlock.yaml").write_text("provider: sqlite\n" + block)
    project = load_project(tmp_path, env=ENV)
    assert [name for name, _ in project.alert_configs] == ["console", "file", "webhook", "slack"]
    assert [p.name for p in project.alert_policies] == ["console", "file", "ops-hook", "slack"]
    assert "xoxb-readme" not in repr(project.alert_configs)


def test_the_readme_turns_slack_on_in_three_lines(tmp_path: Path) -> None:
    text = README.read_text()
    start = text.index("Slack in three lines")
    block = re.findall(r"```yaml\n(.*?)```", text[start:start + 2000], re.S)[0]
    assert len(block.strip().splitlines()) == 2  # with the token's export: three
    (tmp_path / "interlock.yaml").write_text(block)
    project = load_project(tmp_path, env=ENV)
    assert [name for name, _ in project.alert_configs] == ["slack"]
    assert project.config.server.public_url == "https://interlock.example.com"
