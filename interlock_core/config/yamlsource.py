"""YAML parsing that remembers where every key came from, so errors name file, line and key."""

from __future__ import annotations

import stat
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


MAX_NODES = 100_000
"""Nodes a document may hold once aliases are expanded (stops alias bombs before they are built)."""


class _Walker:
    """Records the line of every key and item; rejects duplicate keys, recursive aliases and
    documents that expand to more than :data:`MAX_NODES` nodes."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Path_, int] = {}
        self.count = 0
        self.open: set[int] = set()

    def walk(self, node: yaml.Node, path: Path_) -> None:
        self.count += 1
        line = node.start_mark.line + 1
        if self.count > MAX_NODES:
            raise ConfigError(f"document too large: more than {MAX_NODES} values once aliases are expanded",
                              file=self.file, line=line, key=dotted(path) or None)
        if id(node) in self.open:
            raise ConfigError("recursive alias: a value contains itself", file=self.file, line=line,
                              key=dotted(path) or None)
        self.lines.setdefault(path, line)
        if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            return
        self.open.add(id(node))
        if isinstance(node, yaml.MappingNode):
            self._mapping(node, path)
        else:
            for index, item in enumerate(node.value):
                self.lines[(*path, index)] = item.start_mark.line + 1
                self.walk(item, (*path, index))
        self.open.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> None:
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen and key != "<<":
                raise ConfigError(
                    f"duplicate key {key!r} (first defined on line {seen[key]})",
                    file=self.file,
                    line=line,
                    key=dotted((*path, key)),
                )
            seen[key] = line
            self.lines[(*path, key)] = line
            self.walk(value_node, (*path, key))


_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)
"""libyaml's parser under the same constructor and resolver, when PyYAML was built with it."""


def parse_yaml(text: str, file: str) -> list[Located]:
    """Parse every document of ``text``; raise :class:`ConfigError` with the line on bad YAML.

    With libyaml, a document is parsed by it first (several times faster); anything it does not
    parse cleanly is parsed again by the pure-Python parser, whose errors (and their lines) are
    the ones reported."""
    if _FAST_LOADER is not None:
        try:
            return _parse(text, file, _FAST_LOADER)
        except Exception:  # the pure-Python parser below says what is wrong
            pass
    return _parse(text, file, yaml.SafeLoader)


def _parse(text: str, file: str, loader_class: Any) -> list[Located]:
    docs: list[Located] = []
    loader: Any = None
    try:
        loader = loader_class(text)
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            walker = _Walker(file)
            walker.walk(node, ())
            data = loader.construct_document(node)
            docs.append(Located(data=data, file=file, lines=walker.lines))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"malformed YAML: {problem}", file=file, line=line) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise ConfigError(f"malformed YAML: {exc.reason} (character {char})", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed YAML: {exc}", file=file) from None
    except RecursionError:
        raise ConfigError("malformed YAML: nesting is too deep", file=file) from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise ConfigError(f"malformed YAML: {exc}", file=file) from None
    finally:
        if loader is not None:
            loader.dispose()
    return docs


MAX_FILE_BYTES = 1 << 20
"""The largest configuration file read (1 MiB); a larger one is an error, never half-read."""


def read_yaml(path: Path, display: str | None = None) -> list[Located]:
    """Parse the YAML file at ``path``. Anything but a readable regular UTF-8 file of at most
    :data:`MAX_FILE_BYTES` is a :class:`ConfigError` naming the file."""
    name = display or str(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError("not a regular file", file=name)
        if info.st_size > MAX_FILE_BYTES:
            raise ConfigError(f"file too large: {info.st_size} bytes (at most {MAX_FILE_BYTES})", file=name)
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror or exc}", file=name) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"file too large: more than {MAX_FILE_BYTES} bytes", file=name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"file is not UTF-8 (byte {exc.start})", file=name) from None
    return parse_yaml(text, name)
