"""YAML parsing that remembers where every key came from, so errors name file, line and key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

Path_ = tuple[str | int, ...]


@dataclass
class Located:
    """A parsed YAML document plus the line of every key and list item in it."""

    data: Any
    file: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of the deepest known prefix of ``path``."""
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), None)

    def error(self, message: str, path: Sequence[str | int] = ()) -> ConfigError:
        return ConfigError(message, file=self.file, line=self.line_of(path), key=dotted(path) or None)


def dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], file: str) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen and key != "<<":
                raise ConfigError(
                    f"duplicate key {key!r} (first defined on line {seen[key]})",
                    file=file,
                    line=line,
                    key=dotted((*path, key)),
                )
            seen[key] = line
            lines[(*path, key)] = line
            _walk(value_node, (*path, key), lines, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _walk(item, (*path, index), lines, file)


def parse_yaml(text: str, file: str) -> list[Located]:
    """Parse every document of ``text``; raise :class:`ConfigError` with the line on bad YAML."""
    loader = yaml.SafeLoader(text)
    docs: list[Located] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            lines: dict[Path_, int] = {}
            _walk(node, (), lines, file)
            data = loader.construct_document(node)
            docs.append(Located(data=data, file=file, lines=lines))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"malformed YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed YAML: {exc}", file=file) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise ConfigError(f"malformed YAML: {exc}", file=file) from None
    finally:
        loader.dispose()
    return docs


def read_yaml(path: Path, display: str | None = None) -> list[Located]:
    name = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror or exc}", file=name) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"file is not UTF-8 (byte {exc.start})", file=name) from None
    return parse_yaml(text, name)
