"""Helpers shared by the built-in trigger types.

* :func:`expand_config` — expand ``${NAME}`` in every string of a trigger config at launch time,
  run variables first, then the environment the launch may read: the process environment for a
  pipeline file, only ``api.allowedEnv`` for an API pipeline (secrets stay unexpanded in stored
  config). Errors show the config as written, never an expanded value.
* :func:`mask_secrets` — header maps safe to keep in run metadata.
* :func:`excerpt` — a bounded piece of a response body for messages and metadata.
* :func:`http_client` / :func:`send` — an httpx client and one request whose failures are turned
  into :class:`~interlock_core.errors.TriggerError` values with a failure category.
* :class:`TriggerConfig` — base of the trigger config models (unknown keys are errors, explicit
  aliases, ``pollInterval`` and ``Seconds`` timeouts accepted); :func:`coerce_config` and
  :func:`expanded_config` turn what the engine passes into a validated, launch-time-expanded model.

httpx is imported by the first HTTP request, not with this module: the ``command`` trigger uses
these helpers too, and a project of command triggers never needs it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Iterator, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from interlock_core.durations import parse_duration
from interlock_core.errors import TriggerError, category_for_http_status
from interlock_core.model import FailureCategory
from interlock_core.outbound import HostPolicy, OutboundRefused, may_quote_responses
from interlock_core.plugins import PluginContext
from interlock_core.ports import LaunchRequest
from interlock_core.templating import MissingVariable, chain_lookup, expand_tree

if TYPE_CHECKING:
    import httpx

DEFAULT_HTTP_TIMEOUT = 30.0
EXCERPT_LIMIT = 500
MASK = "***"

_SAFE_HEADERS = frozenset(
    {"accept", "content-type", "user-agent", "idempotency-key", "x-interlock-run-id", "x-request-id"}
)


def _seconds(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str | timedelta):
        return parse_duration(value).total_seconds()
    return value


Seconds = Annotated[float, BeforeValidator(_seconds), Field(gt=0)]
"""A positive number of seconds; ``30``, ``"30s"`` and ``"1m30s"`` are all accepted."""

ConfigT = TypeVar("ConfigT", bound=BaseModel)


class TriggerConfig(BaseModel):
    """Base of a trigger's config model: the keys of the ``trigger:`` section besides ``type``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    poll_interval: Annotated[str | float | None, Field(alias="pollInterval")] = None


def coerce_config(model: type[ConfigT], config: Any) -> ConfigT:
    """``config`` as an instance of ``model``: an instance passes through, a mapping is validated
    (a leading ``type`` key is ignored). Invalid config is a PERMANENT TriggerError."""
    if isinstance(config, model):
        return config
    if isinstance(config, BaseModel):
        config = config.model_dump(by_alias=True, exclude_none=True)
    if not isinstance(config, Mapping):
        message = f"trigger config must be a mapping, not {type(config).__name__}"
        raise TriggerError(message, category=FailureCategory.PERMANENT)
    data = {k: v for k, v in config.items() if k != "type"}
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in exc.errors()
        )
        message = f"invalid trigger config: {problems}"
        raise TriggerError(message, category=FailureCategory.PERMANENT) from None


def expanded_config(model: type[ConfigT], config: Any, variables: Mapping[str, str], *,
                    keep: Collection[str] = (), environment: Mapping[str, str] | None = None) -> ConfigT:
    """``config`` validated, every string expanded with ``variables`` then ``environment``
    (``None``: ``os.environ``), and validated again (so a ``${VAR}`` may stand for a value that only
    the expanded form validates).

    Keys (as written in YAML) named in ``keep`` stay unexpanded: a status poll, which knows no run
    variables, keeps the job's parameters that it does not send anyway."""
    raw = coerce_config(model, config).model_dump(by_alias=True, exclude_none=True)
    kept = {key: raw.pop(key) for key in keep if key in raw}
    return coerce_config(model, {**expand_with(raw, variables, environment), **kept})


def launch_config(model: type[ConfigT], config: Any, request: LaunchRequest) -> ConfigT:
    """:func:`expanded_config` for a launch: the run variables, then the environment the launch may read."""
    return expanded_config(model, config, request.variables, environment=request.environment)


def expand_with(data: Mapping[str, Any], variables: Mapping[str, str],
                environment: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``data`` with every string expanded: ``variables`` first, then ``environment`` (``None``:
    ``os.environ``; a pipeline registered over the API gets only ``api.allowedEnv``)."""
    lookup = chain_lookup(dict(variables), os.environ if environment is None else environment)
    try:
        expanded = expand_tree(dict(data), lookup)
    except MissingVariable as exc:
        raise TriggerError(
            f"trigger config references undefined variable ${{{exc.name}}}",
            category=FailureCategory.PERMANENT,
        ) from None
    assert isinstance(expanded, dict)
    return expanded


def expand_config(data: Mapping[str, Any], request: LaunchRequest) -> dict[str, Any]:
    """``data`` with every string expanded: run variables first, then the environment the launch
    may read (``request.environment``).

    An unknown ``${NAME}`` without default is a permanent launch failure naming the variable."""
    return expand_with(data, request.variables, request.environment)


def redact_url(url: str) -> str:
    """``url`` without user-info (``https://user:pass@host`` -> ``https://host``), for metadata."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def mask_secrets(mapping: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of a header map whose values are masked, except a few harmless well-known headers."""
    if not mapping:
        return {}
    return {k: (v if str(k).lower() in _SAFE_HEADERS else MASK) for k, v in mapping.items()}


def excerpt(text: str | bytes | None, limit: int = EXCERPT_LIMIT) -> str:
    """At most ``limit`` characters of ``text`` (decoded leniently), marked when cut."""
    if text is None or not may_quote_responses():
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[:limit] + "…"


def http_client(timeout: float | None = DEFAULT_HTTP_TIMEOUT, *, outbound: HostPolicy | None = None,
                **kwargs: Any) -> httpx.AsyncClient:
    """An httpx client with Interlock's defaults (explicit timeout, no redirects) that keeps to the
    outbound policy (link-local and metadata addresses always refused)."""
    import httpx

    from ..outbound import guarded_client

    return guarded_client(
        outbound,
        timeout=httpx.Timeout(timeout if timeout and timeout > 0 else DEFAULT_HTTP_TIMEOUT),
        follow_redirects=False,
        headers={"User-Agent": "interlock"},
        **kwargs,
    )


@contextlib.contextmanager
def _request_errors(what: str, url: str, written: str | None) -> Iterator[None]:
    """Transport failures as TriggerError (network -> TRANSIENT, timeout -> TIMEOUT, a host the
    outbound policy refuses -> PERMANENT). ``written`` is the URL as configured, before ``${...}``
    expansion: errors show it, never an expanded value (nor httpx's own words about the URL,
    which quote it)."""
    import httpx

    shown = url if written is None else written
    try:
        yield
    except OutboundRefused as exc:
        message = f"{what}: {redact_url(shown)}: {exc.why}"
        raise TriggerError(message, category=FailureCategory.PERMANENT) from None
    except httpx.TimeoutException as exc:
        message = f"{what}: timed out ({type(exc).__name__})"
        raise TriggerError(message, category=FailureCategory.TIMEOUT) from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
        detail = f": {exc}" if shown == url else f" ({type(exc).__name__})"
        label = "invalid request to" if isinstance(exc, httpx.LocalProtocolError) else "invalid URL"
        message = f"{what}: {label} {redact_url(shown)!r}{detail}"
        raise TriggerError(message, category=FailureCategory.PERMANENT) from None
    except httpx.HTTPError as exc:
        raise TriggerError(
            f"{what}: {type(exc).__name__}: {exc or 'request failed'}", category=FailureCategory.TRANSIENT
        ) from exc


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    what: str,
    written: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request; failures as :func:`_request_errors` says. The response is returned
    whatever its status: callers decide what a status means."""
    with _request_errors(what, url, written):
        return await client.request(method, url, **kwargs)
    raise AssertionError("unreachable")  # pragma: no cover


async def send_bounded(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    what: str,
    limit: int,
    written: str | None = None,
    **kwargs: Any,
) -> tuple[int, bytes]:
    """Like :func:`send`, but only the status and at most ``limit`` bytes of the body are read."""
    with _request_errors(what, url, written):
        response = await client.send(client.build_request(method, url, **kwargs), stream=True)
        body = bytearray()
        try:
            if limit > 0:
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= limit:
                        break
        finally:
            await response.aclose()
        return response.status_code, bytes(body[:limit])
    raise AssertionError("unreachable")  # pragma: no cover


def raise_for_status(response: httpx.Response, what: str) -> None:
    """Raise TriggerError classified by the HTTP status unless the response is 2xx."""
    if response.is_success:
        return
    status = response.status_code
    body = excerpt(response.text)
    raise TriggerError(
        f"{what}: HTTP {status}" + (f": {body}" if body else ""),
        category=category_for_http_status(status),
        status=status,
    )


def json_body(response: httpx.Response, what: str) -> dict[str, Any]:
    """The response's JSON object, or a TRANSIENT TriggerError when the body is not one."""
    try:
        data = response.json()
    except ValueError:
        raise TriggerError(
            f"{what}: response is not JSON: {excerpt(response.text, 200)}",
            category=FailureCategory.TRANSIENT,
            status=response.status_code,
        ) from None
    if not isinstance(data, dict):
        raise TriggerError(f"{what}: response is not a JSON object", category=FailureCategory.TRANSIENT)
    return data


class HTTPTriggerBase:
    """What the HTTP-based trigger types share: the plugin context and one lazily created httpx
    client, closed with the trigger."""

    def __init__(self, context: PluginContext | None = None) -> None:
        self._context = context or PluginContext()
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = http_client(outbound=self._context.outbound)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
