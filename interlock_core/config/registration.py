"""What a pipeline registered over the API may contain, and what it may read when it runs.

A pipeline file is written by whoever runs the server; a pipeline registered over the API by
anyone holding a write key. So an API pipeline

* names no arbitrary executable: an evaluator is a ``builtin:`` evaluator, an http(s) URL, or the
  bare name of an executable in an evaluator directory (never a path, never a ``$PATH`` lookup);
* reads no server environment variable beyond those ``api.allowedEnv`` lists: its ``${NAME}``
  are run variables (``${date}``, ``${runKey}`` …) or allowed names, checked when it is registered
  and again when it launches;
* names an ``endpointURL`` (the AWS triggers) only when ``outbound.allowHosts`` lists its host,
  written out (no ``${...}``): the server signs those calls with its own AWS credentials. Checked
  again, on every resolved address, when it launches or polls.

Every pipeline, whatever its origin: an evaluator name holds no control character and no
surrounding whitespace (it is rejected, never stripped); a trigger's header (under any
``…headers`` key) has a token for a name and no control character but tab in its value — an
HTTP client would refuse it at launch anyway, quoting the value it was expanded to.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError
from ..model import PipelineConfig, PipelineOrigin
from ..outbound import HostPolicy, OutboundRefused
from ..templating import RUN_VARIABLES, references
from .yamlsource import dotted

EVALUATOR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
"""A bare evaluator name, as an API pipeline may give it (matched whole)."""
REMOTE_EVALUATORS = ("builtin:", "http://", "https://")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
ENDPOINT_KEYS = ("endpointURL", "endpointUrl", "endpoint_url")
"""How a trigger names the API endpoint it calls instead of its provider's own (the AWS triggers)."""

Where = tuple[str | int, ...]
Report = Callable[[str, Where], ConfigError]


def is_api(pipeline: PipelineConfig) -> bool:
    return pipeline.origin is PipelineOrigin.API


def evaluator_name_problems(pipeline: PipelineConfig, report: Report) -> list[ConfigError]:
    """Evaluator names with a control character or surrounding whitespace, and ``builtin:`` names
    that are no bare name (``builtin:../x``), in any pipeline."""
    out = []
    for trait_type, trait in pipeline.traits.items():
        evaluator = trait.evaluator
        if evaluator is None:
            continue
        where: Where = ("traits", trait_type, "evaluator")
        if _CONTROL.search(evaluator) or evaluator != evaluator.strip() or not evaluator:
            out.append(report(f"evaluator {evaluator!r} is not a valid name: it must not be empty nor hold control "
                              "characters or surrounding whitespace", where))
        elif evaluator.startswith("builtin:") and not EVALUATOR_NAME.fullmatch(evaluator.removeprefix("builtin:")):
            out.append(report(f"evaluator {evaluator!r} is not a valid name: builtin: takes a bare name "
                              "(letters, digits, '.', '_', '-')", where))
    return out


def endpoint_problem(endpoint: Any, outbound: HostPolicy) -> str | None:
    """Why an API pipeline may not name ``endpoint`` as its trigger's ``endpointURL`` (None: it may)."""
    if not isinstance(endpoint, str) or not endpoint:
        return None
    if "${" in endpoint:
        return "endpointURL of a pipeline registered via API must be written out, without ${...}"
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
    except ValueError:
        host = None
    if host is None or parts.scheme not in ("http", "https"):
        return "endpointURL must be an http(s) URL"
    try:
        outbound.check_host(host, listed=True)
    except OutboundRefused as exc:
        return (f"endpointURL host {host!r} refused: {exc.why} (a pipeline registered via API may only name an "
                "endpoint listed in outbound.allowHosts: the server signs those calls with its own AWS credentials)")
    return None


def header_problems(pipeline: PipelineConfig, report: Report) -> list[ConfigError]:
    """Trigger headers whose name is no HTTP token or whose value holds a control character."""
    if pipeline.trigger is None:
        return []
    out = []
    for key, headers in pipeline.trigger.options().items():
        if not isinstance(key, str) or not key.lower().endswith("headers") or not isinstance(headers, Mapping):
            continue
        for name, value in headers.items():
            where: Where = ("trigger", key, str(name))
            if not _HEADER_NAME.fullmatch(str(name)):
                out.append(report(f"header name {str(name)!r} is not a valid HTTP header name", where))
            elif isinstance(value, str) and _HEADER_CONTROL.search(value):
                out.append(report("a header value must not hold control characters (line breaks, NUL, ESC …)",
                                  where))
    return out


def api_pipeline_problems(pipeline: PipelineConfig, *, allowed_env: Collection[str],
                          evaluator_dirs: Sequence[Path], env: Mapping[str, str] | None = None,
                          outbound: HostPolicy | None = None) -> list[ConfigError]:
    """Everything an API pipeline may not hold, each naming its field."""
    env = os.environ if env is None else env

    def report(message: str, where: Where) -> ConfigError:
        return ConfigError(message, key=dotted(where))

    problems = evaluator_name_problems(pipeline, report)
    named = {p.key for p in problems}
    for trait_type, trait in pipeline.traits.items():
        where: Where = ("traits", trait_type, "evaluator")
        evaluator = trait.evaluator
        if evaluator is None or dotted(where) in named or evaluator.startswith(REMOTE_EVALUATORS):
            continue
        if EVALUATOR_NAME.fullmatch(evaluator) and any(_executable(d / evaluator) for d in evaluator_dirs):
            continue
        problems.append(report(
            f"evaluator {evaluator!r} cannot be registered via API: name an executable in the project's "
            "evaluatorDirs, a builtin: evaluator or an http(s) URL", where))
    if pipeline.trigger is not None:
        options = pipeline.trigger.options()
        for key in ENDPOINT_KEYS:
            problem = endpoint_problem(options.get(key), outbound or HostPolicy())
            if problem is not None:
                problems.append(report(problem, ("trigger", key)))
        for where, text in _strings(options, ("trigger",)):
            for name, has_default in references(text):
                if name in RUN_VARIABLES:
                    continue
                if name not in allowed_env:
                    # the same words whether or not the server has such a variable: no oracle
                    problems.append(report(
                        f"${{{name}}} is not available to pipelines registered via API: use a run variable "
                        f"({', '.join(sorted(RUN_VARIABLES))}) or a variable the project lists in api.allowedEnv",
                        where))
                elif not has_default and name not in env:
                    problems.append(report(f"environment variable {name!r} is not set", where))
    return problems


def trigger_environment(pipeline: PipelineConfig, allowed_env: Collection[str],
                        env: Mapping[str, str] | None = None) -> Mapping[str, str] | None:
    """The environment a launch of ``pipeline`` may expand ``${NAME}`` from: ``None`` (the whole
    process environment) for a pipeline file, only the allowed names for an API pipeline."""
    env = os.environ if env is None else env
    if not is_api(pipeline):
        return None
    return {name: env[name] for name in allowed_env if name in env}


def expanded_values(pipeline: PipelineConfig, allowed_env: Collection[str],
                    env: Mapping[str, str] | None = None) -> list[str]:
    """The values the ``${NAME}`` of ``pipeline``'s trigger take from the environment (run
    variables aside): what a launch or poll expands, so that no message may quote it."""
    if pipeline.trigger is None:
        return []
    environment = trigger_environment(pipeline, allowed_env, env)
    source = (os.environ if env is None else env) if environment is None else environment
    values = []
    for _, text in _strings(pipeline.trigger.options(), ("trigger",)):
        for name, _default in references(text):
            if name not in RUN_VARIABLES and name in source:
                values.append(source[name])
    return values


def _executable(path: Path) -> bool:
    try:
        return path.is_file() and os.access(path, os.X_OK)
    except (OSError, ValueError):
        return False


def _strings(value: Any, where: Where) -> Iterator[tuple[Where, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*where, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*where, index))
