"""Pydantic base classes: camelCase JSON/YAML keys, as SPEC.md writes them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


def empty_list() -> list[Any]:
    """A model field's ``Field(default_factory=empty_list)``: a new list, as ``list`` would make.
    Pydantic asks for the signature of every default factory when it builds a model's validator,
    and ``list``'s is parsed from its text by the tokenizer (whose patterns it compiles first):
    about 5 ms of every command's start-up, where a function's signature costs microseconds."""
    return []


class ConfigModel(BaseModel):
    """A model read from user-written YAML: unknown keys are errors."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=False,
        validate_default=True,
        defer_build=True,
    )

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Record(BaseModel):
    """A record the engine writes and reads back: tolerant of keys added by later versions."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        defer_build=True,
    )

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)
