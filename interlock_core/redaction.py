"""The one redaction pass: what could be a secret is masked before anything leaves the server.

Every output goes through :func:`redact` (structures) or :func:`redact_text` (a string): the API's
JSON answers, the dashboard's pages, alerts (before any sink sees them) and log lines. It masks

* values under keys named like a credential (:func:`is_sensitive`: ``Authorization``, ``Cookie``,
  ``*token*``, ``*secret*``, ``*password*``, ``pwd``, ``*_pass``, ``auth``, ``bearer``, ``sig``,
  ``*apiKey*``, ``*accessKey*``, ``*privateKey*``, ``credentials`` …), at any depth;
* every header value (under a ``…headers`` key) but those of a few harmless headers
  (``SAFE_HEADERS``) — custom headers carry credentials under names no list can foresee;
* in any string (:func:`redact_text`): every URL's userinfo, query values and fragment values
  (``https://u:p@h/?k=v#access_token=t`` → ``https://***@h/?k=***#access_token=***``, a run
  variable such as ``${date}`` kept), ``password=…`` and the like in DSNs and messages
  (``host=db password=***``, ``"token": "***"``), ``Bearer``/``Basic`` credentials, the body of a
  PEM block, AWS access key ids, and — while a trigger runs — the values expanded into its config
  (:mod:`interlock_core.expanded`).

Pure functions of the standard library only: core masks alerts with them, the server its answers,
pages and logs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

from .expanded import _ACTIVE, MASK

# ------------------------------------------------------------------------------------ key names

_SENSITIVE_NAMES = frozenset({
    "authorization", "proxyauthorization", "cookie", "setcookie", "passwd", "pwd", "pass", "password",
    "credential", "credentials", "auth", "bearer", "sig", "signature", "secret", "token",
})
_SENSITIVE_PARTS = ("token", "secret", "password", "passwd", "passphrase", "apikey", "privatekey", "accesskey",
                    "secretkey", "signingkey", "clientkey", "sshkey", "encryptionkey", "masterkey", "cookie",
                    "credential", "signature", "sessionid")
_WHOLE_OR_LAST_SEGMENT = frozenset({"auth", "bearer"})
_ABOUT_A_SECRET = frozenset({"url", "uri", "endpoint", "path", "file", "type", "name", "at", "expires", "expiry",
                             "ttl", "header", "field", "length"})
"""A last word that makes the key name something about a credential, not one (``tokenUrl``,
``passwordFile``, ``secretName``, ``tokenExpiresAt``)."""
_LAST_SEGMENT = frozenset({"pass", "pwd", "sig"})
_SEPARATORS = re.compile(r"[\s_.-]+")
_SEGMENT = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


@lru_cache(maxsize=4096)
def is_sensitive(key: str) -> bool:
    """Whether a value under ``key`` is a credential, compared without case, ``-``, ``_`` or ``.``
    (``db_pass``, ``aws_secret_access_key``, ``sessionCookie``, ``X-Auth-Token`` …). The short
    words count as the last word only: ``basicAuth`` and ``db_pass`` are, ``author``, ``bypass``,
    ``authMethod`` and ``lastPassAt`` are not."""
    name = _SEPARATORS.sub("", key.strip().lower())
    if not name:
        return False
    if name in _SENSITIVE_NAMES or (name[0] == "x" and name[1:] in _SENSITIVE_NAMES):
        return True
    segments = [s.lower() for s in _SEGMENT.findall(key)]
    if len(segments) > 1 and segments[-1] in _ABOUT_A_SECRET:
        return False
    if any(part in name for part in _SENSITIVE_PARTS):
        return True
    return bool(segments) and (segments[-1] in _LAST_SEGMENT or segments[-1] in _WHOLE_OR_LAST_SEGMENT)


HEADERS_KEY = re.compile(r"^.*headers$", re.IGNORECASE)
NAMED_MAPS = frozenset({"traits"})
"""Keys whose mapping is keyed by names a user chose (trait types: ``token-freshness``), not by
settings: the names stay visible, the values are redacted as usual."""
SAFE_HEADERS = frozenset({
    "accept", "accept-charset", "accept-encoding", "accept-language", "cache-control", "content-encoding",
    "content-language", "content-type", "user-agent", "x-request-id", "x-correlation-id",
})


def is_safe_header(name: str) -> bool:
    return name.strip().lower() in SAFE_HEADERS


# ---------------------------------------------------------------------------------- text values

RUN_VARIABLE = re.compile(r"^\$\{(date|scheduleID|scheduleId|pipelineID|pipelineId|hour|runID|runId|runKey"
                          r"|attempt|callbackURL|callbackUrl)\}$")
URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s'\"<>`]+")
PEM = re.compile(r"(-----BEGIN [A-Z0-9 ]{1,60}-----)(.*?)(-----END [A-Z0-9 ]{1,60}-----|\Z)", re.DOTALL)
_WORDS = (r"(?:[A-Za-z0-9]*[_.-])*(?:[A-Za-z0-9]*(?:password|passwd|passphrase|secret|token|api[_-]?key"
          r"|access[_-]?key|private[_-]?key|credentials?|signature|session[_-]?id)[A-Za-z0-9_]*"
          r"|pass|pwd|auth|sig|bearer|cookie)")
ASSIGNED = re.compile(rf"(?i)(?<![A-Za-z0-9])({_WORDS}\s*=\s*)('[^']*'|\"[^\"]*\"|[^\s;&,'\"<>)]+)")
"""``password=secret`` (libpq and ODBC DSNs, messages); the value up to a space, ``;``, ``&`` or ``,``."""
QUOTED = re.compile(rf"(?i)([\"']{_WORDS}[\"']\s*:\s*)(\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s,}}\]]+)")
"""``"token": "abc"`` in a JSON or Python text quoted by a message."""
HEADER_LINE = re.compile(r"(?i)\b((?:proxy-)?authorization|x-api-key|api-key|private-token|x-auth-token)(\s*:\s*)"
                         r"([^\r\n;,]+)|\b((?:set-)?cookie)(\s*:\s*)([^\r\n]+)")
"""A header line quoted in a message: the credential up to the end of the value (a cookie: of the line)."""
SCHEME_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic|token)(\s+)([A-Za-z0-9._~+/=-]{8,})")
AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b")


def _masked_pairs(text: str) -> str:
    parts = []
    for pair in text.split("&"):
        name, sep, value = pair.partition("=")
        parts.append(f"{name}{sep}{value if not value or RUN_VARIABLE.match(value) else MASK}" if sep else pair)
    return "&".join(parts)


def _masked_fragment(fragment: str) -> str:
    if "=" in fragment:
        return _masked_pairs(fragment)
    return fragment if len(fragment) < 20 or RUN_VARIABLE.match(fragment) else MASK


def _masked_url(match: re.Match[str]) -> str:
    text = match.group(0)
    try:
        url = urlsplit(text)
        netloc = url.netloc
    except ValueError:
        return MASK
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    query = _masked_pairs(url.query) if url.query else url.query
    fragment = _masked_fragment(url.fragment) if url.fragment else url.fragment
    if netloc == url.netloc and query == url.query and fragment == url.fragment:
        return text
    return urlunsplit(SplitResult(url.scheme, netloc, url.path, query, fragment))


def mask_urls(text: str) -> str:
    """``text`` with every URL's userinfo, query values and fragment values masked."""
    if "://" not in text:
        return text
    return URL.sub(_masked_url, text)


def _pem(match: re.Match[str]) -> str:
    return f"{match.group(1)}{MASK}{match.group(3)}"


_PLAIN = re.compile(r"[A-Za-z0-9_.+@/-]*")
"""Words, ids, paths and dates: no space, quote, ``=`` or ``:``, so of the patterns below only an
AWS access key id (20 characters) can match."""
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(?:Z|[+-][0-9]{2}:[0-9]{2})?")
"""An ISO 8601 instant: no pattern below matches one (its only letters are ``T`` and ``Z``)."""


CLEAN_TEXTS_SIZE = 4096
CLEAN_TEXT_LENGTH = 256
_clean_texts: set[str] = set()
_NONE_CLEAN: frozenset[str] = frozenset()
"""Short texts found to hold nothing to mask (statuses, names, ids, paths, time stamps: an answer
repeats the same few), answered without a pattern next time. Only texts the pass left unchanged
are kept — never one that held a secret — and only while no trigger's expanded values are
active (a text clean without them may not be clean with them). Emptied when full."""


def redact_text(text: str) -> str:
    """``text`` with every secret-looking value masked (see the module documentation)."""
    active = _ACTIVE.get()
    if active is not None:
        return _masked_text(active.sub(MASK, text))
    if type(text) is str and text in _clean_texts:
        return text
    masked = _masked_text(text)
    if type(text) is str and len(text) <= CLEAN_TEXT_LENGTH and masked == text:
        if len(_clean_texts) >= CLEAN_TEXTS_SIZE:
            _clean_texts.clear()
        _clean_texts.add(text)
    return masked


def _masked_text(text: str) -> str:
    if _PLAIN.fullmatch(text):  # the common case (statuses, names, ids, paths): one check
        return AWS_KEY_ID.sub(MASK, text) if len(text) >= 20 else text
    if _TIMESTAMP.fullmatch(text):
        return text
    if "://" in text:
        text = URL.sub(_masked_url, text)
    if "-----BEGIN" in text:
        text = PEM.sub(_pem, text)
    if "=" in text:
        text = ASSIGNED.sub(lambda m: f"{m.group(1)}{MASK}", text)
    if ":" in text:
        text = QUOTED.sub(lambda m: f"{m.group(1)}{_quoted_mask(m.group(2))}", text)
        text = HEADER_LINE.sub(_header_line, text)
    text = SCHEME_CREDENTIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return AWS_KEY_ID.sub(MASK, text)


def _header_line(match: re.Match[str]) -> str:
    name, separator = (match.group(1), match.group(2)) if match.group(1) else (match.group(4), match.group(5))
    return f"{name}{separator}{MASK}"


def _quoted_mask(value: str) -> str:
    if value[:1] in ("'", '"'):
        return f"{value[0]}{MASK}{value[0]}"
    return MASK


# ---------------------------------------------------------------------------------- structures


def _headers(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: (redact(v) if isinstance(k, str) and is_safe_header(k) else MASK if v not in (None, "") else v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):  # [{name, value}] or ["Name: value"] forms
        return [_header_item(item) for item in value]
    return redact(value)


def _header_item(item: Any) -> Any:
    if isinstance(item, str):
        name, sep, _ = item.partition(":")
        return item if not sep or is_safe_header(name) else f"{name}: {MASK}"
    if isinstance(item, Mapping) and "name" in item and "value" in item:
        return {**item, "value": redact(item["value"]) if is_safe_header(str(item["name"])) else MASK}
    return _headers(item)


@lru_cache(maxsize=4096)
def _key_kind(key: str) -> tuple[bool, bool]:
    """(credential-like, a ``…headers`` key) of a key name, once per name."""
    return is_sensitive(key), HEADERS_KEY.match(key) is not None


def redact_entry(key: Any, value: Any) -> Any:
    """``value`` as shown under ``key``: masked whole under a credential-like key, header values
    masked under a ``…headers`` key, :func:`redact` otherwise."""
    if isinstance(key, str):
        sensitive, headers = _key_kind(key)
        if sensitive and value not in (None, ""):
            return MASK
        if headers:
            return _headers(value)
    if key in NAMED_MAPS and isinstance(value, Mapping):
        return {name: redact(item) for name, item in value.items()}
    return redact(value)


_AS_IS = frozenset({int, float, bool, type(None)})


def redact(value: Any) -> Any:
    """A copy of ``value`` with every credential-like value masked (see the module documentation)."""
    kind = type(value)  # the JSON types first, by type: the common case, without the ABC checks
    if kind is str:
        return redact_text(value)
    if kind is dict:
        return _redacted_dict(value)
    if kind is list:
        return [redact(item) for item in value]
    if kind in _AS_IS:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_entry(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def _redacted_dict(value: dict[Any, Any]) -> dict[Any, Any]:
    """:func:`redact` of a dict: each entry as :func:`redact_entry` shows it; under an ordinary key
    a string, a JSON scalar, a list or a dict without the call."""
    clean = _clean_texts if _ACTIVE.get() is None else _NONE_CLEAN  # redact_text's own shortcut, without the call
    out = {}
    for key, item in value.items():
        if isinstance(key, str):
            sensitive, headers = _key_kind(key)
            if sensitive or headers:
                out[key] = redact_entry(key, item)
                continue
        kind = type(item)
        if kind is str:
            out[key] = item if item in clean else redact_text(item)
        elif kind in _AS_IS:
            out[key] = item
        elif kind is list:
            out[key] = [redact(element) for element in item]
        elif kind is dict and key not in NAMED_MAPS:
            out[key] = _redacted_dict(item)
        else:
            out[key] = redact_entry(key, item)
    return out
