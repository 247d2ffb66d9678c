"""The ``slack`` alert sink: a bot posts each alert with Slack's Web API (``chat.postMessage``).

One thread per pipeline and cycle: the first alert of a pipeline's cycle opens it, every later
one replies to it (``thread_ts``), so a breach and its recovery read as one story. The thread's
``ts`` is kept in the store (the sink's :class:`~interlock_core.ports.SinkState`), so a restart
or another replica keeps threading. Errors are also shown in the channel (``broadcast``).
Severity sets the colour and the emoji; with ``server.publicURL`` the message links to the
pipeline's dashboard page.

It speaks the Web API over httpx (imported only when the sink is configured) rather than through
the Slack SDK: one method is used, and the SDK's own retry handlers would fight the alert
outbox, which already retries, honours ``Retry-After`` and dead-letters. Slack's answers map to
:class:`~interlock_core.alerts.AlertDeliveryError`: HTTP 429 or ``ratelimited`` is "slow down"
(``retry_after``), an answer that cannot mend (``channel_not_found``, ``invalid_auth`` …) is
permanent, anything else is tried again. The token (write it as ``${SLACK_BOT_TOKEN}``) is a
secret string: never in a repr, a log line or an error.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx
from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator

from interlock_core.alerts import AlertDeliveryError
from interlock_core.expanded import apply, masker
from interlock_core.model import Alert, AlertLevel, ConfigModel
from interlock_core.plugins import PluginContext
from interlock_core.sink_state import MemorySinkState

THREAD_TTL = timedelta(days=8).total_seconds()
"""How long a cycle's thread is remembered (its alerts come within days of it)."""

STYLE = {  # level -> (emoji, colour of the attachment bar, word)
    AlertLevel.ERROR: (":red_circle:", "#E01E5A", "Error"),
    AlertLevel.WARNING: (":large_orange_circle:", "#ECB22E", "Warning"),
    AlertLevel.INFO: (":large_green_circle:", "#2EB67D", "Info"),
}
RANK = {AlertLevel.INFO: 0, AlertLevel.WARNING: 1, AlertLevel.ERROR: 2}

PERMANENT = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "not_authed", "account_inactive",
    "token_revoked", "token_expired", "missing_scope", "no_permission", "restricted_action", "access_denied",
    "ekm_access_denied", "invalid_arguments", "invalid_arg_name", "invalid_blocks", "invalid_attachments",
    "msg_too_long", "no_text", "too_many_attachments", "invalid_charset", "invalid_form_data",
    "invalid_post_type", "missing_post_type", "team_access_not_granted", "org_login_required",
    "enterprise_is_restricted", "method_deprecated", "deprecated_endpoint", "not_allowed_token_type",
    "two_factor_setup_required", "as_user_not_supported", "channel_is_archived", "message_limit_exceeded",
})
"""``chat.postMessage`` errors that no retry mends: the alert is dead-lettered at once."""
RATE_LIMITED = frozenset({"ratelimited", "rate_limited"})
LOST_THREAD = frozenset({"thread_not_found", "invalid_thread_ts"})


class SlackSinkConfig(ConfigModel):
    token: SecretStr = Field(min_length=1)
    """The bot token (``xoxb-…``, scope ``chat:write``); write it as ``${SLACK_BOT_TOKEN}``."""
    channel: str = Field(min_length=1, max_length=200)
    """The channel's ID (``C0123ABCD``, steadiest) or name (``#data-alerts``); invite the bot to it."""
    threads: bool = True
    """One thread per pipeline and cycle; ``false`` posts every alert in the channel."""
    broadcast: Literal["error", "warning", "none"] = "error"
    """Replies at this level or above are also shown in the channel."""
    api_url: str = Field(default="https://slack.com/api", validation_alias=AliasChoices("apiURL", "apiUrl", "api_url"),
                         serialization_alias="apiURL")
    """The Web API's base URL (a Slack-compatible server, or a test's fake)."""
    timeout: float = Field(default=10.0, gt=0, le=120)

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if any(c.isspace() for c in value.get_secret_value()):
            raise ValueError("the token must not contain spaces (write it as ${SLACK_BOT_TOKEN})")
        return value

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except (httpx.InvalidURL, TypeError) as exc:
            raise ValueError(f"invalid apiURL: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("apiURL must be an http:// or https:// URL with a host")
        return value.rstrip("/")


class SlackSink:
    name: ClassVar[str] = "slack"
    config_model: ClassVar[type[BaseModel]] = SlackSinkConfig

    def __init__(self, config: SlackSinkConfig, context: PluginContext,
                 *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.state = context.state or MemorySinkState()
        self.public_url = context.public_url
        self._token = config.token.get_secret_value()
        self._hide = masker([self._token])
        self._client = httpx.AsyncClient(timeout=config.timeout, transport=transport, follow_redirects=False)

    def __repr__(self) -> str:
        return f"SlackSink(channel={self.config.channel!r})"

    # ------------------------------------------------------------------------------ sending
    async def send(self, alert: Alert) -> None:
        key = self._thread_key(alert)
        thread = await self.state.get(key) if key else None
        try:
            ts = await self._post(self.message(alert, thread))
        except _LostThread:  # the thread's first message was deleted: this one opens a new thread
            thread = None
            ts = await self._post(self.message(alert, None))
        if key and thread is None and ts:
            await self.state.put_if_absent(key, ts, THREAD_TTL)

    def message(self, alert: Alert, thread: str | None) -> dict[str, Any]:
        """The ``chat.postMessage`` arguments for ``alert`` (a reply in ``thread`` when given)."""
        emoji, colour, word = STYLE.get(alert.level, STYLE[AlertLevel.INFO])
        text = _escape(alert.message)
        if alert.count and alert.count > 1:
            text += f" _(×{alert.count}: identical alerts grouped)_"
        context = [f"*{_escape(alert.pipeline_id)}*" if alert.pipeline_id else "Interlock"]
        if alert.date:
            context.append(_escape(f"{alert.schedule_id or 'cycle'} {alert.date}"))
        if alert.trait_type:
            context.append(f"trait `{_escape(alert.trait_type)}`")
        context.append(word.lower())
        link = self._link(alert)
        if link:
            context.append(f"<{link}|Open in Interlock>")
        payload: dict[str, Any] = {
            "channel": self.config.channel,
            "text": f"{emoji} {text}",  # the notification's and the accessibility text
            "attachments": [{"color": colour, "fallback": f"{word}: {text}", "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"{emoji} {text}"}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]},
            ]}],
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if thread:
            payload["thread_ts"] = thread
            if self.config.broadcast != "none" and RANK[alert.level] >= RANK[AlertLevel(self.config.broadcast)]:
                payload["reply_broadcast"] = True
        return payload

    async def _post(self, payload: dict[str, Any]) -> str | None:
        """``chat.postMessage``; the new message's ``ts``."""
        headers = {"Authorization": f"Bearer {self._token}", "Content-Type": "application/json; charset=utf-8"}
        try:
            response = await self._client.post(f"{self.config.api_url}/chat.postMessage",
                                               content=json.dumps(payload), headers=headers)
        except httpx.TimeoutException as exc:
            raise AlertDeliveryError(f"slack did not answer within {self.config.timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise AlertDeliveryError(self._hidden(f"slack request failed: {type(exc).__name__}: {exc}")) from None
        if response.status_code == 429:
            raise AlertDeliveryError("slack rate limited the bot (HTTP 429)", retry_after=_retry_after(response),
                                     upstreamStatus=429)
        if response.status_code >= 500 or response.status_code == 408:
            raise AlertDeliveryError(f"slack answered HTTP {response.status_code}", upstreamStatus=response.status_code)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise AlertDeliveryError(f"slack answered HTTP {response.status_code} without a Web API answer",
                                     permanent=response.status_code >= 400, upstreamStatus=response.status_code)
        if answer.get("ok") is True:
            ts = answer.get("ts")
            return ts if isinstance(ts, str) else None
        error = str(answer.get("error") or f"HTTP {response.status_code}")
        if error in LOST_THREAD and "thread_ts" in payload:
            raise _LostThread(error)
        if error in RATE_LIMITED:
            raise AlertDeliveryError(f"slack: {error}", retry_after=_retry_after(response), slackError=error)
        raise AlertDeliveryError(f"slack refused the message: {_escape_error(error)}",
                                 permanent=error in PERMANENT or (400 <= response.status_code < 500),
                                 slackError=error)

    # ------------------------------------------------------------------------------ helpers
    def _thread_key(self, alert: Alert) -> str | None:
        """One thread per channel, pipeline and cycle (its date: the alert's, else the day it was raised)."""
        if not self.config.threads or not alert.pipeline_id:
            return None
        day = alert.date or alert.timestamp.date().isoformat()
        return f"slack-thread:{self.config.channel}:{alert.pipeline_id}:{day}"

    def _link(self, alert: Alert) -> str | None:
        if not self.public_url:
            return None
        if alert.pipeline_id:
            return f"{self.public_url}/pipelines/{quote(alert.pipeline_id, safe='')}"
        return f"{self.public_url}/alerts"

    def _hidden(self, text: str) -> str:
        return apply(self._hide, text)

    async def close(self) -> None:
        await self._client.aclose()


class _LostThread(Exception):
    pass


def _escape(text: str | None) -> str:
    """Text as Slack's mrkdwn shows it literally: ``<!channel>`` in a trait's reason pings no one."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_error(error: str) -> str:
    return "".join(c for c in error if c.isalnum() or c in "_-.")[:100] or "unknown"


def _retry_after(response: httpx.Response) -> float:
    """Seconds Slack asked to wait (``Retry-After``), at least 1."""
    try:
        return max(1.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0
