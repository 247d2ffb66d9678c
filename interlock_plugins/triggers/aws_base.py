"""What the AWS trigger types share: connection keys, the session, one guarded API call.

Every AWS trigger accepts ``region``, ``endpointURL`` (a local emulator), ``timeout`` (seconds
one launch or poll may take in all, retries included) and ``maxAttempts`` (botocore's own
retries of throttled or failed calls). One aioboto3 session is made per trigger instance, lazily;
a client is opened per call with the configured region and endpoint.

``endpointURL`` keeps to the outbound policy like the http triggers (:mod:`interlock_core.outbound`):
its host as written, then every address it resolves to, before aiohttp connects (no proxy from the
environment then). A pipeline registered over the API may only name an endpoint listed in
``outbound.allowHosts``: every call is signed with the server's own AWS credentials. And for such
a pipeline no AWS error text, failure detail or unknown state word is quoted (an allow-listed
endpoint is still one an API client chose): the error code when it is a known one, the HTTP status
otherwise.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, ClassVar, Generic, TypeVar
from urllib.parse import urlsplit

import aioboto3
import anyio
import pydantic
from aiobotocore.config import AioConfig
from botocore.config import Config as BotoConfig
from pydantic import AliasChoices, BeforeValidator, Field

from interlock_core.errors import TriggerError
from interlock_core.model import FailureCategory
from interlock_core.model.base import ConfigModel
from interlock_core.outbound import OutboundRefused, is_untrusted_target
from interlock_core.plugins import PluginContext
from interlock_core.ports import LaunchRequest, LaunchResult, PollResult
from interlock_core.templating import MissingVariable, chain_lookup, expand

from ..outbound import GuardedResolver, guarded_resolver
from ._common import expand_config, redact_url
from .aws_errors import trigger_error

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_ATTEMPTS = 3

T = TypeVar("T")


def _scalar_text(value: Any) -> Any:
    """YAML scalars (numbers, booleans) as the strings AWS APIs take; anything else is left to fail."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


ArgumentText = Annotated[str, BeforeValidator(_scalar_text)]
"""A string argument that may be written as a bare YAML number or boolean."""

_STATE_WORD = re.compile(r"[A-Z][A-Z_]{0,31}")


def poll_result(
    state: str,
    *,
    succeeded: frozenset[str],
    failed: Mapping[str, FailureCategory],
    detail: str | None = None,
) -> PollResult:
    """Map a provider state to running/succeeded/failed; the message is the provider's state
    (with its failure detail when there is one). For a pipeline registered over the API the
    detail is left out, and a state this trigger does not know is not quoted."""
    if is_untrusted_target():
        detail = None
        if state not in succeeded and state not in failed and not _STATE_WORD.fullmatch(state):
            state = "unknown state"
    message = f"{state}: {detail}" if detail and state in failed else state
    if state in succeeded:
        return PollResult(state="succeeded", message=message)
    if state in failed:
        return PollResult(state="failed", message=message, failure_category=failed[state])
    return PollResult(state="running", message=message)


def metadata_text(metadata: Mapping[str, Any], *keys: str) -> list[str] | None:
    """The string values of ``keys`` in ``metadata``, or None when any is missing or empty."""
    values = [metadata.get(key) for key in keys]
    if all(isinstance(v, str) and v for v in values):
        return [str(v) for v in values]
    return None


class AWSTriggerConfig(ConfigModel):
    """Keys every AWS trigger accepts."""

    region: str | None = None
    endpoint_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("endpointURL", "endpointUrl", "endpoint_url"),
        serialization_alias="endpointURL",
    )
    timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0)
    max_attempts: int = Field(default=DEFAULT_MAX_ATTEMPTS, ge=1, le=10)


C = TypeVar("C", bound=AWSTriggerConfig)


def idempotency_name(run_key: str, max_length: int, allowed: str = r"A-Za-z0-9_-") -> str:
    """``run_key`` as a name an AWS API accepts as an idempotency key.

    Kept as is when it only uses ``allowed`` characters and fits; otherwise its characters are
    replaced and a hash of the whole key is appended, so distinct keys keep distinct names."""
    cleaned = re.sub(f"[^{allowed}]", "-", run_key)
    if cleaned == run_key and 0 < len(run_key) <= max_length:
        return run_key
    digest = hashlib.sha256(run_key.encode()).hexdigest()[:16]
    head = cleaned[: max_length - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}" if head else digest


def _expand_env(value: str | None, key: str) -> str | None:
    if value is None:
        return None
    try:
        return expand(value, chain_lookup(os.environ)) or None
    except MissingVariable as exc:
        raise TriggerError(
            f"trigger {key} references undefined variable ${{{exc.name}}}", category=FailureCategory.PERMANENT
        ) from None


class AWSTrigger(Generic[C]):
    """Base of the AWS trigger types. Subclasses set ``name``, ``config_model``, ``service`` and
    ``metadata_kind`` and implement ``launch``/``poll`` with :meth:`call`."""

    name: ClassVar[str]
    config_model: ClassVar[type[AWSTriggerConfig]]
    service: ClassVar[str]
    metadata_kind: ClassVar[str]
    pollable: ClassVar[bool] = True
    api_registrable: ClassVar[bool] = True

    def __init__(self, context: PluginContext) -> None:
        self.context = context
        self._session: Any = None

    async def launch(self, config: Any, request: LaunchRequest) -> LaunchResult:
        raise NotImplementedError

    async def poll(self, config: Any, metadata: Mapping[str, Any]) -> PollResult:
        raise NotImplementedError

    async def close(self) -> None:
        """Drop the session (clients are closed after every call)."""
        self._session = None

    # config -----------------------------------------------------------------------------------
    def validated(self, config: Any) -> C:
        """``config`` as this type's model (it may arrive as the model or as the raw mapping)."""
        if isinstance(config, self.config_model):
            return config  # type: ignore[return-value]
        data = config
        if isinstance(config, pydantic.BaseModel):  # e.g. the pipeline's TriggerSpec
            options = getattr(config, "options", None)
            data = options() if callable(options) else config.model_dump(by_alias=True)
        if not isinstance(data, Mapping):
            raise TriggerError(
                f"{self.name} trigger: config must be a mapping", category=FailureCategory.PERMANENT
            )
        return self._validate({k: v for k, v in data.items() if k != "type"})

    def launch_config(self, config: Any, request: LaunchRequest) -> C:
        """The config with ``${...}`` expanded for this launch (run variables, then environment)."""
        model = self.validated(config)
        return self._validate(expand_config(model.model_dump(exclude_unset=True), request))

    def poll_config(self, config: Any) -> C:
        """The config for a poll: only the connection keys matter, expanded from the environment."""
        model = self.validated(config)
        return model.model_copy(
            update={
                "region": _expand_env(model.region, "region"),
                "endpoint_url": _expand_env(model.endpoint_url, "endpointURL"),
            }
        )

    def _validate(self, data: dict[str, Any]) -> C:
        try:
            return self.config_model.model_validate(data)  # type: ignore[return-value]
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in exc.errors()
            )
            raise TriggerError(
                f"{self.name} trigger: invalid config: {problems}", category=FailureCategory.PERMANENT
            ) from None

    # calls ------------------------------------------------------------------------------------
    def missing_metadata(self) -> str:
        return f"missing {self.metadata_kind} metadata"

    def _check_endpoint(self, endpoint: str, what: str, listed: bool) -> None:
        """Refuse an ``endpointURL`` the outbound policy refuses, as written (its addresses are
        checked when connecting)."""
        try:
            parts = urlsplit(endpoint)
            host = parts.hostname
        except ValueError:
            host = None
        if host is None or parts.scheme not in ("http", "https"):
            raise TriggerError(f"{what}: endpointURL {redact_url(endpoint)!r} is not an http(s) URL",
                               category=FailureCategory.PERMANENT)
        try:
            self.context.outbound.check_host(host, listed=listed)
        except OutboundRefused as exc:
            raise _refused(what, endpoint, exc, listed) from None

    def retry_options(self, config: AWSTriggerConfig) -> dict[str, Any]:
        """botocore's retries of one call (``max_attempts``: retries after the first attempt)."""
        return {"mode": "standard", "max_attempts": config.max_attempts}

    async def call(self, config: AWSTriggerConfig, what: str, operation: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``operation(client)`` within ``config.timeout``; failures become TriggerError
        ``<what> failed: …`` with the category of the AWS error."""
        untrusted = is_untrusted_target()
        resolver: GuardedResolver | None = None
        if config.endpoint_url:
            self._check_endpoint(config.endpoint_url, what, untrusted)
        try:
            with anyio.fail_after(config.timeout):
                session = await self._get_session()
                options: dict[str, Any] = {
                    "connect_timeout": config.timeout,
                    "read_timeout": config.timeout,
                    "retries": self.retry_options(config),
                    "user_agent_extra": "interlock",
                }
                if config.endpoint_url:
                    # every resolved address checked before connecting; no proxy (it would connect unchecked)
                    resolver = guarded_resolver(self.context.outbound, listed=untrusted)
                    boto_config: BotoConfig = AioConfig({"resolver": resolver}, proxies={}, **options)
                else:
                    boto_config = BotoConfig(**options)
                async with session.client(
                    self.service,
                    region_name=config.region,
                    endpoint_url=config.endpoint_url,
                    config=boto_config,
                ) as client:
                    return await operation(client)
        except TriggerError:
            raise
        except Exception as exc:  # every AWS/transport failure is classified, never propagated raw
            if resolver is not None and resolver.refused is not None and config.endpoint_url:
                raise _refused(what, config.endpoint_url, resolver.refused, untrusted) from None
            raise trigger_error(what, exc, quote=not untrusted) from exc

    async def _get_session(self) -> Any:
        if self._session is None:
            # building a session reads botocore's data files: keep that off the event loop
            self._session = await anyio.to_thread.run_sync(aioboto3.Session)
        return self._session


def _refused(what: str, endpoint: str, exc: OutboundRefused, listed: bool) -> TriggerError:
    why = exc.why
    if listed and "allowHosts" in why:
        why += " (a pipeline registered via API reaches only an endpointURL listed there)"
    return TriggerError(f"{what}: endpointURL {redact_url(endpoint)}: refused: {why}",
                        category=FailureCategory.PERMANENT)
