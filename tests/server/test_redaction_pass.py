"""One redaction pass for every output: pushed trait values and reasons are masked on every route
(to a read-only key too), on the pages, in alerts (console and file) and in log lines; config
masking knows more key names (``db_pass``, ``pwd``, ``access_key``, ``aws_secret_access_key``,
``auth``, ``bearer``, ``sessionCookie``, ``sig``) and value shapes (a PEM block, ``password=`` in
a DSN, a token in a URL fragment)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from interlock_core.redaction import MASK, is_sensitive, redact, redact_text
from interlock_server.logging import configure_logging

from .alerting import KEY, READER, AlertingApi
from .support import http_pipeline

PEM_BODY = "MIIEpAIBAAKCAQEA7bq98PemBodyS3cr3t"
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\nlinetwoS3cr3t==\n-----END RSA PRIVATE KEY-----"
SECRETS = ["dsn-pw-s3cr3t", "kv-pw-s3cr3t", "json-tok-s3cr3t", "frag-tok-s3cr3t", "value-pw-s3cr3t",
           "bearer-s3cr3t-abcdef", PEM_BODY, "linetwoS3cr3t"]


def pushed_value() -> dict[str, Any]:
    return {"dsn": "postgresql://app:dsn-pw-s3cr3t@db.example/sales", "password": "value-pw-s3cr3t",
            "rows": 42, "note": "callback https://cb.example/done#access_token=frag-tok-s3cr3t&state=x"}


def pushed_reason() -> str:
    return ("connect failed: host=db.example user=app password=kv-pw-s3cr3t; answer {\"token\": \"json-tok-s3cr3t\"}; "
            f"sent Authorization: Bearer bearer-s3cr3t-abcdef; key {PEM}")


async def test_pushed_trait_values_and_reasons_are_masked_everywhere(
        make_alerting_api: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> None:
    api: AlertingApi = await make_alerting_api()
    response = await api.client.post("/api/pipelines", json=http_pipeline("pushed", "http://127.0.0.1:9/run"),
                                     headers={"X-API-Key": KEY})
    assert response.status_code == 201, response.text
    response = await api.client.post("/api/pipelines/pushed/traits/source-ready", headers={"X-API-Key": KEY},
                                     json={"status": "FAIL", "value": pushed_value(), "reason": pushed_reason()})
    assert response.status_code == 201
    assert not [s for s in SECRETS if s in response.text], response.text
    for path in ("/api/pipelines/pushed/traits", "/api/pipelines/pushed/traits/source-ready",
                 "/api/pipelines/pushed/readiness", "/api/pipelines/pushed/events"):
        for key in (READER, KEY):
            text = await api.read(path, key)
            assert "source-ready" in text
            assert not [s for s in SECRETS if s in text], (path, text)
    trait = json.loads(await api.read("/api/pipelines/pushed/traits/source-ready"))
    assert trait["value"]["rows"] == 42 and trait["value"]["password"] == MASK
    assert trait["value"]["dsn"] == "postgresql://***@db.example/sales"
    assert "password=***" in trait["reason"] and "-----BEGIN RSA PRIVATE KEY-----" in trait["reason"]
    shown = await api.everything_shown("pushed") + capsys.readouterr().out
    assert "Trait source-ready failed for pushed" in shown  # the console and file alerts were sent
    assert not [s for s in SECRETS if s in shown]


CONFIG_SECRETS = {"db_pass": "c1-s3cr3t", "pwd": "c2-s3cr3t", "access_key": "c3-s3cr3t",
                  "aws_secret_access_key": "c4-s3cr3t", "auth": "c5-s3cr3t", "bearer": "c6-s3cr3t",
                  "sessionCookie": "c7-s3cr3t", "sig": "c8-s3cr3t"}


async def test_config_masking_knows_more_names_and_shapes(make_alerting_api: Callable[..., Any]) -> None:
    api: AlertingApi = await make_alerting_api()
    data = http_pipeline("configured", "http://127.0.0.1:9/run#access_token=c9-s3cr3t")
    data["trigger"]["body"] = {**CONFIG_SECRETS, "dsn": "host=db user=app password=c10-s3cr3t dbname=x",
                               "key": PEM, "day": "${date}"}
    response = await api.client.post("/api/pipelines", json=data, headers={"X-API-Key": KEY})
    assert response.status_code == 201, response.text
    secrets = [*CONFIG_SECRETS.values(), "c9-s3cr3t", "c10-s3cr3t", PEM_BODY]
    for path in ("/api/pipelines", "/api/pipelines/configured", "/pipelines/configured"):
        text = await api.read(path)
        assert not [s for s in secrets if s in text], (path, text)
    body = json.loads(await api.read("/api/pipelines/configured"))["trigger"]["body"]
    assert {k: body[k] for k in CONFIG_SECRETS} == dict.fromkeys(CONFIG_SECRETS, MASK)
    assert body["day"] == "${date}" and body["dsn"] == "host=db user=app password=*** dbname=x"


@pytest.mark.parametrize("key", ["db_pass", "pwd", "access_key", "aws_secret_access_key", "auth", "bearer",
                                 "sessionCookie", "sig", "Authorization", "X-Auth-Token", "clientSecret", "apiKey",
                                 "basicAuth", "dbPassword", "privateKey", "signature", "passwd"])
def test_credential_key_names(key: str) -> None:
    assert is_sensitive(key)


@pytest.mark.parametrize("key", ["author", "authority", "bypass", "lastPassAt", "tokenUrl", "runKey", "config",
                                 "passed", "signal", "secretName", "design", "authMethod"])
def test_names_that_merely_resemble_credentials(key: str) -> None:
    assert not is_sensitive(key)


def test_trait_types_are_names_not_settings() -> None:
    """A trait named like a credential keeps its name and its settings visible (its secrets not)."""
    traits = {"token-freshness": {"evaluator": "check", "config": {"maxAge": 60, "password": "p"}},
              "auth-service-up": {"evaluator": "builtin:ping"}}
    assert redact({"traits": traits}) == {"traits": {
        "token-freshness": {"evaluator": "check", "config": {"maxAge": 60, "password": MASK}},
        "auth-service-up": {"evaluator": "builtin:ping"}}}


@pytest.mark.parametrize(("text", "shown"), [
    ("host=db password=pw1 dbname=x", "host=db password=*** dbname=x"),
    ("Server=s;Pwd=pw2;Uid=u", "Server=s;Pwd=***;Uid=u"),
    ("postgresql://app:pw3@db:5432/x", "postgresql://***@db:5432/x"),
    ("https://cb.example/#access_token=t4&state=s", "https://cb.example/#access_token=***&state=***"),
    ("https://h.example/docs#section-2", "https://h.example/docs#section-2"),
    ('{"apiKey": "k5", "rows": 1}', '{"apiKey": "***", "rows": 1}'),
    ("Authorization: Bearer abcdefgh123", "Authorization: ***"),
    ("retrying with bearer abcdefgh123", "retrying with bearer ***"),
    ("id AKIAIOSFODNN7EXAMPLE used", "id *** used"),
    ("x -----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY----- y",
     "x -----BEGIN PRIVATE KEY-----***-----END PRIVATE KEY----- y"),
    ("truncated -----BEGIN PRIVATE KEY-----\nabc", "truncated -----BEGIN PRIVATE KEY-----***"),
    ("status 500: ready=false, attempts=3", "status 500: ready=false, attempts=3"),
])
def test_value_shapes(text: str, shown: str) -> None:
    assert redact_text(text) == shown
    assert redact({"note": text}) == {"note": shown}
    assert redact_text(shown) == shown  # a second pass changes nothing


def test_log_lines_go_through_the_same_pass() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    try:
        logging.getLogger("interlock.test").warning("dsn %s", "host=db password=log-s3cr3t")
        try:
            raise RuntimeError(f"failed: {PEM}")
        except RuntimeError:
            logging.getLogger("interlock.test").exception("with a traceback")
    finally:
        logging.getLogger().handlers.clear()
    text = stream.getvalue()
    assert "password=***" in text and "with a traceback" in text
    assert "log-s3cr3t" not in text and PEM_BODY not in text
