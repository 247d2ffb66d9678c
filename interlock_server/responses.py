"""JSON responses: compact, newline-terminated, records serialised with their camelCase keys, and
every answer through the one redaction pass (:mod:`interlock_core.redaction`): trait values and
reasons, event messages and details, run metadata and failure messages, error texts — to full and
read-only keys alike. Only a document of the server's own (the OpenAPI document) opts out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response

from interlock_core.redaction import redact

JSON_MEDIA_TYPE = "application/json"

_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str)
"""The answers' encoder, built once (``json.dumps`` with these options builds one per call)."""


def to_jsonable(content: Any) -> Any:
    """Records and models become their JSON dicts (``None`` fields omitted); lists map over."""
    if type(content) is dict:  # an answer built by the route itself: as it is
        return content
    if isinstance(content, BaseModel):
        return content.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(content, list | tuple):
        return [to_jsonable(item) for item in content]
    return content


def render_json(content: Any, *, redacted: bool = True) -> bytes:
    """An answer's body: ``content`` as compact JSON, through the redaction pass unless not
    ``redacted``, newline-terminated."""
    data = to_jsonable(content)
    return _ENCODER.encode(redact(data) if redacted else data).encode("utf-8") + b"\n"


class JSONResponse(Response):
    media_type = JSON_MEDIA_TYPE
    redacted = True

    def render(self, content: Any) -> bytes:
        return render_json(content, redacted=self.redacted)


class OwnJSONResponse(JSONResponse):
    """A document the server writes itself, holding nothing a client or a pipeline wrote (the
    OpenAPI document: its ``securitySchemes`` would read as credentials)."""

    redacted = False


def json_response(content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(content, status_code=status_code, headers=headers)


def error_response(status_code: int, message: str, headers: Mapping[str, str] | None = None,
                   **details: Any) -> JSONResponse:
    """The one error body: ``{"error": "<message>", ...details}``."""
    body = {"error": message, **{k: v for k, v in details.items() if v is not None}}
    return JSONResponse(body, status_code=status_code, headers=headers)


def no_content() -> Response:
    return Response(status_code=204)
