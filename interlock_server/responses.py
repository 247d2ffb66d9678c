"""JSON responses: compact, newline-terminated, records serialised with their camelCase keys."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response

JSON_MEDIA_TYPE = "application/json"


def to_jsonable(content: Any) -> Any:
    """Records and models become their JSON dicts (``None`` fields omitted); lists map over."""
    if isinstance(content, BaseModel):
        return content.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(content, list | tuple):
        return [to_jsonable(item) for item in content]
    return content


class JSONResponse(Response):
    media_type = JSON_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        if isinstance(content, BaseModel):  # serialised by pydantic-core, without a Python dict in between
            return content.__pydantic_serializer__.to_json(content, by_alias=True, exclude_none=True) + b"\n"
        return json.dumps(
            to_jsonable(content), ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str
        ).encode("utf-8") + b"\n"


def json_response(content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(content, status_code=status_code, headers=headers)


def error_response(status_code: int, message: str, headers: Mapping[str, str] | None = None,
                   **details: Any) -> JSONResponse:
    """The one error body: ``{"error": "<message>", ...details}``."""
    body = {"error": message, **{k: v for k, v in details.items() if v is not None}}
    return JSONResponse(body, status_code=status_code, headers=headers)


def no_content() -> Response:
    return Response(status_code=204)
