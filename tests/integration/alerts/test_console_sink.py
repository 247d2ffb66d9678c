"""The console sink writes one line per alert, coloured only on a terminal."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path

import pydantic
import pytest

from interlock_core.model import Alert, AlertLevel
from interlock_core.plugins import PluginContext, load_plugins
from interlock_plugins.alerts.console import ConsoleSink, ConsoleSinkConfig, format_line


def sink(**options: object) -> ConsoleSink:
    return ConsoleSink(ConsoleSinkConfig.model_validate(options), PluginContext(project_dir=Path.cwd()))


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_levels_and_pipeline(capsys: pytest.CaptureFixture[str],
                                   make_alert: Callable[..., Alert]) -> None:
    console = sink()
    await console.send(make_alert("run failed", level=AlertLevel.ERROR))
    await console.send(make_alert("blocked", level=AlertLevel.WARNING))
    await console.send(make_alert("store reachable again", pipeline=None, level=AlertLevel.INFO))
    out = capsys.readouterr().out
    assert out.splitlines() == ["[ERROR] [orders] run failed", "[WARN] [orders] blocked",
                                "[INFO] store reachable again"]
    assert "\033[" not in out


async def test_multiline_message_stays_on_one_line(capsys: pytest.CaptureFixture[str],
                                                   make_alert: Callable[..., Alert]) -> None:
    await sink().send(make_alert("first\nsecond"))
    assert capsys.readouterr().out == "[ERROR] [orders] first second\n"


async def test_stderr_stream(capsys: pytest.CaptureFixture[str], make_alert: Callable[..., Alert]) -> None:
    await sink(stream="stderr").send(make_alert())
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("[ERROR] [orders] ")


async def test_colour_on_a_terminal_unless_no_color(monkeypatch: pytest.MonkeyPatch,
                                                    make_alert: Callable[..., Alert]) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    await sink().send(make_alert("run failed"))
    assert terminal.getvalue() == "\033[31m[ERROR]\033[0m [orders] run failed\n"
    monkeypatch.setenv("NO_COLOR", "1")
    terminal.seek(0)
    terminal.truncate()
    await sink().send(make_alert("run failed"))
    assert terminal.getvalue() == "[ERROR] [orders] run failed\n"


def test_config_is_strict_and_registered() -> None:
    with pytest.raises(pydantic.ValidationError):
        ConsoleSinkConfig.model_validate({"stream": "printer"})
    with pytest.raises(pydantic.ValidationError):
        ConsoleSinkConfig.model_validate({"colour": True})
    assert load_plugins().alert_sinks.get("console") is ConsoleSink


async def test_control_characters_are_written_escaped(monkeypatch: pytest.MonkeyPatch,
                                                      make_alert: Callable[..., Alert]) -> None:
    """An alert quoting a trait reason or a failure message must not drive the operator's terminal:
    ESC sequences, BEL, carriage returns and bidi overrides arrive escaped; only the sink's own
    colour codes are raw."""
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.delenv("NO_COLOR", raising=False)
    await sink().send(make_alert("reason \x1b]0;pwned\x07\x1b[2J\rover\u202eevil\x9b1m", level=AlertLevel.ERROR))
    line = terminal.getvalue()
    assert line.count("\x1b") == 2  # the tag's colour and its reset, nothing else
    assert "\x07" not in line and "\r" not in line and "\u202e" not in line and "\x9b" not in line
    assert "\\x1b]0;pwned\\x07\\x1b[2J over\\u202eevil\\x9b1m" in line  # a line break became a space


def test_a_grouped_alert_says_how_many_it_stands_for(make_alert: Callable[..., Alert]) -> None:
    grouped = make_alert().model_copy(update={"count": 3})
    assert format_line(grouped, colour=False).endswith("exhausted 3 retry attempts (x3)")
    assert not format_line(make_alert(), colour=False).endswith(")")
