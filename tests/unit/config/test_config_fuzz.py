"""Whatever is in the files, loading a project raises a ConfigError or succeeds: never a raw exception."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interlock_core.config import load_project, parse_yaml
from interlock_core.errors import ConfigError

VALID_CONFIG = """\
provider: ${STORE:-sqlite}
sqlite:
  path: ./interlock.db
  busyTimeout: 5s
redis:
  addr: localhost:6379
  keyPrefix: "fuzz:"
server:
  addr: "127.0.0.1:3000"
  apiKey: ${API_KEY:-}
engine:
  defaultTimeout: 30s
watcher:
  enabled: true
  defaultInterval: 30s
pipelineDirs: [./pipelines]
alerts:
  - type: console
  - type: file
    path: ./alerts.log
"""

VALID_PIPELINE = """\
name: fuzz-pipeline
archetype: batch-ingestion
tier: 2
traits:
  source-freshness:
    evaluator: check-freshness
    config: {maxLagSeconds: 60, source: sales}
    ttl: 120
    timeout: 15
  schema-contract: {}
trigger:
  type: command
  argv: [echo, "${date}", "${runId}"]
  timeout: 60
retry: {maxAttempts: 3, backoffSeconds: 30, retryableFailures: [TRANSIENT]}
sla: {evaluationDeadline: "09:00", completionDeadline: 2h, timezone: America/New_York}
watch: {interval: 1m, monitoring: {enabled: true, duration: 30m}}
schedules:
  - {name: morning, after: "06:00", deadline: "08:00", timezone: UTC}
exclusions: {calendar: us-holidays, days: [Saturday], dates: ["2026-12-25"]}
"""

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

YAML_NOISE = [*":-[]{},&*!|>#'\"%@`?\t\n \\$", "${", "${X}", "<<", "---", "...", "- ", ": ", "!!str ",
              "!!int ", "!!binary ", "&a ", "*a", "\x00", "\x85", "\ufeff"]


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "pipelines").mkdir()
    return root


def load_only_config_errors(root: Path, config: str | bytes, pipeline: str | bytes) -> None:
    for name, content in (("interlock.yaml", config), ("pipelines/fuzz.yaml", pipeline)):
        path = root / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", errors="surrogatepass")
    try:
        load_project(root, env={"API_KEY": "k"})
    except ConfigError as exc:
        assert exc.message
        for error in getattr(exc, "errors", [exc]):
            assert isinstance(error, ConfigError) and error.file, error.message


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """``text`` with a few random edits: deletions, insertions of YAML punctuation, duplicated,
    dropped or swapped lines, re-indentation."""
    for _ in range(draw(st.integers(1, 6))):
        lines = text.splitlines(keepends=True) or [""]
        kind = draw(st.sampled_from(["delete", "insert", "dup", "drop", "swap", "indent", "replace"]))
        pos = draw(st.integers(0, max(len(text) - 1, 0)))
        if kind == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 20)):]
        elif kind == "insert":
            text = text[:pos] + draw(st.sampled_from(YAML_NOISE) | st.text(max_size=5)) + text[pos:]
        elif kind == "replace":
            text = text[:pos] + draw(st.sampled_from(YAML_NOISE)) + text[pos + 1:]
        else:
            i = draw(st.integers(0, len(lines) - 1))
            if kind == "dup":
                lines.insert(i, lines[i])
            elif kind == "drop":
                del lines[i]
            elif kind == "swap":
                j = draw(st.integers(0, len(lines) - 1))
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines[i] = draw(st.sampled_from(["  ", "\t", "    ", ""])) + lines[i].lstrip(" ")
            text = "".join(lines)
    return text


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**18, max_value=10**300),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["30s", "25:00", "Mars/Base", "${MISSING}", "${date}", "batch-ingestion", "command",
                     "sqlite", "redis", "PASS", "", "-1", "1e999"]),
)
trees = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12) | scalars.filter(
        lambda v: isinstance(v, str | int | bool) or v is None), children, max_size=4),
    max_leaves=25,
)


def node_paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every node of a parsed document (the root included)."""
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out += node_paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out += node_paths(value, (*prefix, index))
    return out


def replace_at(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[path[0]] = replace_at(data[path[0]], path[1:], value)
    return copy


BASE = {"config": yaml.safe_load(VALID_CONFIG), "pipeline": yaml.safe_load(VALID_PIPELINE)}
PLANT_SITES = [(target, path) for target, doc in BASE.items() for path in node_paths(doc)]


@SETTINGS
@given(config=st.binary(max_size=300), pipeline=st.binary(max_size=300))
def test_random_bytes(fuzz_dir: Path, config: bytes, pipeline: bytes) -> None:
    load_only_config_errors(fuzz_dir, config, pipeline)


@SETTINGS
@given(config=st.text(max_size=200), pipeline=st.text(max_size=200))
def test_random_text(fuzz_dir: Path, config: str, pipeline: str) -> None:
    load_only_config_errors(fuzz_dir, config, pipeline)


@SETTINGS
@given(cut_config=st.integers(0, len(VALID_CONFIG)), cut_pipeline=st.integers(0, len(VALID_PIPELINE)))
def test_truncated_valid_files(fuzz_dir: Path, cut_config: int, cut_pipeline: int) -> None:
    load_only_config_errors(fuzz_dir, VALID_CONFIG[:cut_config], VALID_PIPELINE[:cut_pipeline])


@SETTINGS
@given(config=mutated(VALID_CONFIG), pipeline=mutated(VALID_PIPELINE))
def test_mutated_valid_files(fuzz_dir: Path, config: str, pipeline: str) -> None:
    load_only_config_errors(fuzz_dir, config, pipeline)


@SETTINGS
@given(site=st.sampled_from(PLANT_SITES), value=trees)
def test_valid_files_with_a_random_value_planted(fuzz_dir: Path, site: tuple[str, tuple[Any, ...]],
                                                 value: Any) -> None:
    target, path = site
    text = yaml.safe_dump(replace_at(BASE[target], path, value), allow_unicode=True)
    if target == "config":
        load_only_config_errors(fuzz_dir, text, VALID_PIPELINE)
    else:
        load_only_config_errors(fuzz_dir, VALID_CONFIG, text)


@SETTINGS
@given(document=trees)
def test_random_documents(fuzz_dir: Path, document: Any) -> None:
    text = yaml.safe_dump(document, allow_unicode=True)
    load_only_config_errors(fuzz_dir, VALID_CONFIG, text)
    load_only_config_errors(fuzz_dir, text, VALID_PIPELINE)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 800 + "]" * 800,
        "{a: " * 800 + "1" + "}" * 800,
        "".join(f"{'  ' * i}k{i}:\n" for i in range(400)) + "  " * 400 + "v",
        "- " * 800 + "x",
        "name: " + "9" * 6000,
        "tier: " + "9" * 4000,
        "tier: 1e99999\n",
        "tier: -.inf\n",
        "name: p\narchetype: batch-ingestion\ntier: 99999999999999999999999999999\n",
        "name: p\narchetype: batch-ingestion\ntraits:\n  source-freshness:\n    ttl: 1e400\n",
        "\tname: p\n",
        "name:\tp\narchetype:\tbatch-ingestion\n",
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdef", "bcdefg", strict=True)),
        "a: &a {b: *a}\n",
        "name: p\narchetype: batch-ingestion\n<<: {tier: 1}\n",
        "? [a, b]\n: c\n",
        "!!python/object/apply:os.system ['true']\n",
        "--- 1\n--- [2]\n--- {name: p}\n",
        "%TAG ! tag:example.com,2000:\n--- !foo 1\n",
        "name: p\narchetype: batch-ingestion\ntrigger: {type: command, argv: [], shell: yes}\n",
        "name: p\narchetype: batch-ingestion\nschedules: [{name: a}, {name: a}]\n",
        "\ufeffname: p\narchetype: batch-ingestion\n",
        "name: p\r\narchetype: batch-ingestion\r\n",
        "",
        "~",
        "null",
    ],
    ids=lambda t: repr(t[:24]),
)
def test_pathological_documents(fuzz_dir: Path, text: str) -> None:
    load_only_config_errors(fuzz_dir, VALID_CONFIG, text)
    load_only_config_errors(fuzz_dir, text, VALID_PIPELINE)


def test_the_valid_files_used_for_fuzzing_are_valid(fuzz_dir: Path) -> None:
    (fuzz_dir / "interlock.yaml").write_text(VALID_CONFIG)
    (fuzz_dir / "pipelines" / "fuzz.yaml").write_text(VALID_PIPELINE)
    project = load_project(fuzz_dir, env={"API_KEY": "k"})
    assert list(project.pipelines) == ["fuzz-pipeline"]


def test_alias_bomb_is_refused_quickly() -> None:
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    with pytest.raises(ConfigError, match="document too large"):
        parse_yaml(text, "bomb.yaml")
