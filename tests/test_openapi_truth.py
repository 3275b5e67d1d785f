"""The OpenAPI document tells what the app sends (api.http.openapi): the rules cover every
route, errors are documented as the problem+json they are, and a few answers are checked
against the real app (the full sweep is tests/test_fuzz_api.py)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient

from api.http import openapi
from api.http.app import create_app
from api.http.deps import AppState, CurrentUser
from tests.conftest import bearer

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture
def app(state: AppState) -> FastAPI:
    return create_app(state)


@pytest.fixture
def spec(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, item in spec["paths"].items() for m, op in item.items()]


def test_every_route_is_covered_by_the_rules(app: FastAPI) -> None:
    assert openapi.uncovered(app) == []


def test_a_route_with_an_unknown_dependency_is_not_covered(app: FastAPI) -> None:
    def quota() -> None:  # a new dependency: what can it answer? The rules cannot know.
        return None

    router = APIRouter()

    @router.get("/new-thing", dependencies=[Depends(quota)])
    def new_thing(user: CurrentUser) -> dict[str, str]:
        return {}

    app.include_router(router)
    assert openapi.uncovered(app) == [f"GET /new-thing: depends on {quota!r}"]


def test_a_stale_hand_entry_is_named(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(openapi.NEVER, ("GET", "/gone"), frozenset({403}))
    assert openapi.uncovered(app) == ["GET /gone: a hand entry for no route"]


def test_no_error_is_documented_as_fastapis_validation_error(spec: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in str(spec)
    for method, path, op in _operations(spec):
        for status, answer in op["responses"].items():
            if status.isdigit() and int(status) in openapi.PROBLEM_STATUSES:
                content = answer["content"]
                assert content == {"application/problem+json": {"schema": PROBLEM_REF}}, (
                    method,
                    path,
                    status,
                )


def test_derived_answers(spec: dict[str, Any]) -> None:
    def statuses(method: str, path: str) -> set[str]:
        return set(spec["paths"][path][method]["responses"])

    accept = spec["paths"]["/cases/{reference}/accept"]["post"]
    assert {"401", "403", "404", "409", "412", "413", "422", "428"} <= statuses(
        "post", "/cases/{reference}/accept"
    )
    if_match = [p for p in accept["parameters"] if p["name"] == "If-Match"]
    assert if_match[0]["required"] is True and if_match[0]["schema"]["type"] == "string"
    assert "ETag" in accept["responses"]["200"]["headers"]
    assert accept["responses"]["401"]["headers"]["WWW-Authenticate"]["required"] is True
    assert {"413", "415"} <= statuses("post", "/cases/{reference}/record-evidence")
    assert statuses("get", "/me") == {"200", "401", "422"}  # never 403 (NEVER)
    assert statuses("get", "/healthz") == {"200"}  # no parameters, nothing to refuse
    assert spec["paths"]["/reports"]["post"]["security"] == [{}, {"HTTPBearer": []}]
    assert "404" in statuses("get", "/cases/{reference}/due-date")
    links = spec["paths"]["/reports"]["post"]["responses"]["201"]["links"]
    assert links["accept"]["parameters"] == {
        "path.reference": "$response.body#/reference",
        "header.If-Match": "$response.header.ETag",
    }


def test_problem_schema_is_what_is_sent(
    client: TestClient, spec: dict[str, Any], tokens: dict[str, str]
) -> None:
    """The validation handler's and a domain error's bodies against the documented shape."""
    schema = spec["components"]["schemas"]["Problem"]
    invalid = client.get("/cases", params={"limit": 0}, headers=bearer(tokens["sec.li"]))
    missing = client.get("/cases/QF-2026-99999", headers=bearer(tokens["sec.li"]))
    precondition = client.post(
        "/cases/QF-2026-99999/decline", json={"reason": "x"}, headers=bearer(tokens["sec.li"])
    )
    for answer, status in ((invalid, 422), (missing, 404), (precondition, 428)):
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        body = answer.json()
        assert set(schema["required"]) <= set(body), body
        assert isinstance(body["status"], int) and body["status"] == status
    assert invalid.json()["errors"] == [
        {"field": "limit", "reason": invalid.json()["errors"][0]["reason"]}
    ]
    unauthenticated = client.get("/me")
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["WWW-Authenticate"] == "Bearer"


def test_served_document_is_the_told_one(client: TestClient, spec: dict[str, Any]) -> None:
    served = client.get("/openapi.json").json()
    assert served["components"]["schemas"]["Problem"] == openapi.PROBLEM_SCHEMA
    assert served["paths"].keys() == spec["paths"].keys()
