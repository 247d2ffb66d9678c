"""The OpenAPI document is valid 3.1 and matches the app's route table exactly."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate
from starlette.routing import Route

from interlock_server.routes import ApiRoute

from .conftest import Api

SPEC_TABLE = {  # SPEC.md "HTTP API"
    ("GET", "/api/health"), ("GET", "/api/pipelines"), ("POST", "/api/pipelines"),
    ("GET", "/api/pipelines/{id}"), ("DELETE", "/api/pipelines/{id}"), ("POST", "/api/pipelines/{id}/evaluate"),
    ("GET", "/api/pipelines/{id}/readiness"), ("GET", "/api/pipelines/{id}/traits"),
    ("GET", "/api/pipelines/{id}/traits/{type}"), ("POST", "/api/pipelines/{id}/traits/{type}"),
    ("POST", "/api/pipelines/{id}/run"), ("GET", "/api/pipelines/{id}/runs"), ("GET", "/api/runs/{runId}"),
    ("POST", "/api/runs/{runId}/complete"), ("GET", "/api/pipelines/{id}/runlogs"),
    ("GET", "/api/pipelines/{id}/runlogs/{date}"), ("GET", "/api/pipelines/{id}/events"),
    ("POST", "/api/pipelines/{id}/rerun"), ("GET", "/api/pipelines/{id}/reruns"), ("GET", "/api/reruns"),
    ("POST", "/api/reruns/{rerunId}/complete"),
}


async def _document(api: Api) -> dict[str, Any]:
    response = await api.client.get("/api/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


async def test_document_is_valid_openapi_3_1(api: Api) -> None:
    document = await _document(api)
    assert document["openapi"] == "3.1.0"
    validate(document)


async def test_every_route_is_documented_and_every_documented_path_exists(api: Api) -> None:
    document = await _document(api)
    routes = [r for r in api.app.routes if isinstance(r, Route)]
    assert all(isinstance(r, ApiRoute) for r in routes), "every route carries its documentation"
    served = {(m, r.path) for r in routes for m in (r.methods or ()) if m != "HEAD"}
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert served == documented
    assert SPEC_TABLE <= served
    operation_ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
    for path, ops in document["paths"].items():
        for op in ops.values():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(path.replace("}", "{").split("{")[1::2]), path


async def test_request_and_response_models_are_referenced(api: Api) -> None:
    document = await _document(api)
    schemas = document["components"]["schemas"]
    register = document["paths"]["/api/pipelines"]["post"]
    body_ref = register["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    pipeline = schemas[body_ref.rsplit("/", 1)[1]]
    assert pipeline["properties"]["name"]["pattern"] == "^[a-z0-9][a-z0-9._-]{0,253}[a-z0-9]$"
    assert "scheduleId" in schemas["CycleBody"]["properties"]  # camelCase, by alias
    run = document["paths"]["/api/pipelines/{id}/run"]["post"]["responses"]
    assert set(run) >= {"202", "404", "409", "412", "422", "429", "503"}
    assert run["429"]["headers"]["Retry-After"]
    assert "security" not in document  # no API key configured: the document says so


async def test_security_is_documented_when_keys_are_configured(make_api: Any) -> None:
    api: Api = await make_api(env={"INTERLOCK_API_KEY": "k"})
    response = await api.client.get("/api/openapi.json", headers={"X-API-Key": "k"})
    document = response.json()
    validate(document)
    assert document["security"] == [{"apiKey": []}, {"bearer": []}]
    assert document["paths"]["/api/health"]["get"]["security"] == []
    assert "401" in document["paths"]["/api/pipelines"]["get"]["responses"]
