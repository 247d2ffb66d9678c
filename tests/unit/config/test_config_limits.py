"""The loader's limits: file size, values once aliases are expanded, and files it cannot read."""

from __future__ import annotations

import os
import time

from interlock_core.config.yamlsource import MAX_FILE_BYTES, MAX_NODES
from interlock_core.errors import ConfigError


def located(error: ConfigError, file: str, *fragments: str) -> None:
    assert (error.file, error.line, error.key) == (file, None, None), error.message
    for fragment in fragments:
        assert fragment in error.reason, error.message


def test_a_file_over_the_size_cap_is_an_error_naming_it(project) -> None:
    padding = "# " + "x" * 78 + "\n"
    project.pipeline("huge", "name: huge\narchetype: batch-ingestion\n" + padding * (MAX_FILE_BYTES // 80 + 1))
    located(project.only_error(), "pipelines/huge.yaml", "file too large", str(MAX_FILE_BYTES))


def test_an_interlock_yaml_over_the_size_cap_is_an_error(project) -> None:
    project.config("provider: sqlite\n" + "#" * (MAX_FILE_BYTES + 1) + "\n")
    located(project.only_error(), "interlock.yaml", "file too large")


def test_an_alias_bomb_in_a_pipeline_file_is_refused_quickly(project) -> None:
    text = "name: bomb\narchetype: batch-ingestion\ndescription: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    project.pipeline("bomb", text)
    started = time.monotonic()
    errors = project.errors()
    assert time.monotonic() - started < 10  # a loose bound: expanded, this is 10^9 values
    assert any(e.file == "pipelines/bomb.yaml" and f"more than {MAX_NODES} values" in e.reason for e in errors)


def test_a_dangling_link_in_pipelines_is_reported_not_skipped(project) -> None:
    os.symlink(project.root / "nowhere.yaml", project.root / "pipelines" / "gone.yaml")
    located(project.only_error(), "pipelines/gone.yaml", "cannot read file", "No such file")


def test_a_special_file_in_pipelines_is_reported_not_read(project) -> None:
    os.mkfifo(project.root / "pipelines" / "pipe.yaml")  # reading it would block the loader forever
    located(project.only_error(), "pipelines/pipe.yaml", "not a regular file")


def test_an_undecodable_file_in_pipelines_is_reported(project) -> None:
    (project.root / "pipelines" / "binary.yaml").write_bytes(b"\xff\xfe\x00n\x00a\x00m\x00e")
    located(project.only_error(), "pipelines/binary.yaml", "not UTF-8")
