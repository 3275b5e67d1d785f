"""The API answers the same way everywhere: input errors are 422s naming the field, ETags
compare strongly, unknown query parameters are refused, schemas show no internal fields;
and triage is on the case before anyone accepts or declines."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cases.procedure.clock import local_date, utcnow
from tests.conftest import bearer
from tests.helpers import SHA

ROOT = Path(__file__).resolve().parents[1]


def _readme_report() -> dict[str, Any]:
    """The example report of the README, as a new user would send it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"localhost:8000/reports .*?-d '(\{.*?\})'", text, re.S)
    assert found, "the README shows how to file a report"
    return dict(json.loads(found.group(1)))


def _accepted(client: TestClient, tokens: dict[str, str]) -> tuple[str, dict[str, str]]:
    ref = client.post("/reports", json=_readme_report()).json()["reference"]
    inv = bearer(tokens["inv.wang"])
    accepted = client.post(
        f"/cases/{ref}/accept",
        json={"category": "cliques", "severity": "minor", "investigators": ["inv.wang"]},
        headers={**inv, "If-Match": '"1"'},
    )
    assert accepted.status_code == 200, accepted.text
    return ref, {**inv, "If-Match": accepted.headers["ETag"]}


def _problem(response: Any, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = dict(response.json())
    assert body["field"] == field, body
    return body


def test_the_readme_report_passes_triage_and_triage_is_in_the_answers(
    client: TestClient, tokens: dict[str, str]
) -> None:
    report = _readme_report()
    first = client.post("/reports", json=report).json()["reference"]
    sec = bearer(tokens["sec.li"])
    case_file = client.get(f"/cases/{first}", headers=sec).json()
    assert case_file["triage"] == {"possible_duplicate_of": None, "missing": []}
    assert [e["action"] for e in case_file["timeline"]] == ["case.filed", "triage.checked"]

    again = client.post("/reports", json={**report, "details": "太短"}).json()["reference"]
    seen = client.get(f"/cases/{again}", headers=sec).json()["triage"]
    assert seen == {"possible_duplicate_of": first, "missing": ["details"]}
    declined = client.post(
        f"/cases/{again}/decline",
        json={"reason": "duplicate", "explanation": "同一事项已受理"},
        headers={**sec, "If-Match": '"1"'},
    )
    assert declined.status_code == 200, declined.text
    assert declined.json()["triage"]["possible_duplicate_of"] == first
    assert client.get(f"/cases/{again}", headers=sec).json()["duplicate_of"] == first


def test_declining_as_a_duplicate_needs_a_case_when_triage_found_none(
    client: TestClient, tokens: dict[str, str]
) -> None:
    ref = client.post("/reports", json=_readme_report()).json()["reference"]
    answer = client.post(
        f"/cases/{ref}/decline",
        json={"reason": "duplicate", "explanation": "重复"},
        headers={**bearer(tokens["sec.li"]), "If-Match": '"1"'},
    )
    _problem(answer, 422, "duplicate_of")


@pytest.mark.parametrize("reasons", [None, [], [""], "事实不清"])
def test_reasons_are_input_validation_with_one_type(
    client: TestClient, tokens: dict[str, str], reasons: Any
) -> None:
    ref, inv = _accepted(client, tokens)
    body = {} if reasons is None else {"reasons": reasons}
    field = "reasons.0" if reasons == [""] else "reasons"
    _problem(client.post(f"/cases/{ref}/return-findings", json=body, headers=inv), 422, field)
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert (
        schemas["ReturnFindings"]["properties"]["reasons"]
        == (schemas["DecideAppeal"]["properties"]["reasons"])
    )


def test_request_schemas_show_no_internal_fields(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("Accept", "ReturnFindings", "Assign", "RecordInterview", "GrantExtension"):
        assert "action" not in schemas[name]["properties"], name


@pytest.mark.parametrize(
    ("if_match", "status"),
    [('W/"2"', 412), ("2", 412), ('"2", "3"', 412), ("", 428), ("   ", 428), ('"2"', 200)],
)
def test_if_match_uses_strong_comparison(
    client: TestClient, tokens: dict[str, str], if_match: str, status: int
) -> None:
    ref, inv = _accepted(client, tokens)
    assert inv["If-Match"] == '"2"'
    answer = client.post(
        f"/cases/{ref}/record-evidence",
        json={"description": "照片", "sha256": SHA},
        headers={**inv, "If-Match": if_match},
    )
    assert answer.status_code == status, answer.text
    if status != 200:
        assert answer.json()["field"] == "If-Match"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/cases?stage=intake&stag=intake"), ("POST", "/reports?anonymous=yes")],
)
def test_unknown_query_parameters_are_refused(
    client: TestClient, tokens: dict[str, str], method: str, path: str
) -> None:
    answer = client.request(method, path, json=_readme_report(), headers=bearer(tokens["sec.li"]))
    unknown = path.rsplit("&", 1)[-1].split("?")[-1].split("=")[0]
    body = _problem(answer, 422, unknown)
    assert "unknown query parameter" in body["detail"]


def test_known_query_parameters_still_work(client: TestClient, tokens: dict[str, str]) -> None:
    listed = client.get("/cases?stage=intake&limit=5", headers=bearer(tokens["sec.li"]))
    assert listed.status_code == 200, listed.text


def test_interview_and_evidence_dates_in_the_future_are_refused(
    client: TestClient, tokens: dict[str, str]
) -> None:
    ref, inv = _accepted(client, tokens)
    tomorrow = (local_date(utcnow()) + timedelta(days=1)).isoformat()
    interview = {"interviewee": "部门成员", "summary": "证实情况", "held_on": tomorrow}
    _problem(
        client.post(f"/cases/{ref}/record-interview", json=interview, headers=inv), 422, "held_on"
    )
    evidence = {"description": "照片", "sha256": SHA, "collected_on": tomorrow}
    _problem(
        client.post(f"/cases/{ref}/record-evidence", json=evidence, headers=inv),
        422,
        "collected_on",
    )
    today = local_date(utcnow()).isoformat()
    kept = client.post(
        f"/cases/{ref}/record-interview", json={**interview, "held_on": today}, headers=inv
    )
    assert kept.status_code == 200, kept.text
