"""No answer tells staff who filed an anonymous report, and the subject never learns who
reported at all. Every staff-reachable probe of a handle (accept, assign in each capacity,
conflict declarations, lists and filters, the case file) is tried for the reporter and for
a stranger, and the answers must be identical but for the handle itself."""

from __future__ import annotations

import json
from itertools import count
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.http.deps import AppState
from cases.people import directory as org
from cases.procedure.vocabulary import Role
from cases.store.db import UnitOfWork
from tests.conftest import BOTH_DATABASES, bearer

REPORT = {
    "unit": "cs-su",
    "subject_handle": "2023010001",
    "subject_name": "张三",
    "summary": "学生会干部搞小圈子",
    "details": "在部门内搞小圈子,排斥新成员,安排工作论资排辈,本学期以来多次发生,影响恶劣。",
    "category": "cliques",
}
REPORTER = ("2023019999", "钱同学", "qian@example.edu")
STRANGER = ("2023018888", "孙同学", "sun@example.edu")
_staff_numbers = count(1)


def _student(state: AppState, handle: str, name: str, email: str) -> str:
    _, token = org.add_person(
        uow=UnitOfWork(state.db),
        handle=handle,
        name=name,
        unit="cs-su",
        email=email,
        with_token=True,
    )
    assert token
    return token


def _investigator(state: AppState, related_to: str) -> str:
    """A new investigator in scope who declares a relationship with ``related_to``."""
    handle = f"inv.p{next(_staff_numbers)}"
    org.add_person(
        uow=UnitOfWork(state.db),
        handle=handle,
        name="新调查员",
        unit="league",
        roles=[(Role.INVESTIGATOR, "league")],
    )
    org.declare_relationship(uow=UnitOfWork(state.db), handle=handle, other=related_to, kind="室友")
    return handle


def _answer(response: Any, *hide: str) -> tuple[int, str]:
    """Status and body, with the probed handle and this case's particulars blanked out."""
    body = response.json()
    if isinstance(body, dict):
        for volatile in ("reference", "filed_at", "due_at", "instance", "version", "ETag"):
            body.pop(volatile, None)
    text = json.dumps(body, ensure_ascii=False, sort_keys=True)
    for secret in hide:
        text = text.replace(secret, "<probed>")
    return response.status_code, text


def _probe(client: TestClient, state: AppState, tokens: dict[str, str], handle: str) -> list:
    """Every staff probe of ``handle`` against a fresh anonymous case filed by REPORTER."""
    report = {**REPORT, "subject_handle": f"20230{next(_staff_numbers):05d}"}  # no duplicates
    filed = client.post("/reports", json=report, headers=bearer(tokens["reporter"])).json()
    ref, answers = filed["reference"], []
    inv, sec = bearer(tokens["inv.wang"]), bearer(tokens["sec.li"])

    def post(path: str, body: dict[str, Any], who: dict[str, str], etag: str) -> Any:
        response = client.post(f"/cases/{ref}/{path}", json=body, headers={**who, "If-Match": etag})
        answers.append(_answer(response, handle, ref))
        return response

    accept = {"category": "cliques", "severity": "minor"}
    post("accept", {**accept, "investigators": [handle]}, inv, '"1"')
    post("accept", {**accept, "investigators": ["inv.wang", handle]}, inv, '"1"')
    related = _investigator(state, handle)  # conflict declaration, then an assignment
    accepted = post("accept", {**accept, "investigators": ["inv.wang", related]}, inv, '"1"')
    etag = accepted.headers.get("ETag", '"1"')
    for capacity in ("investigator", "verifier", "advisor", "appeal_reviewer"):
        post("assign", {"capacity": capacity, "person": handle}, sec, etag)
        overriding = {"capacity": capacity, "person": handle, "override_reason": "需要"}
        post("assign", overriding, sec, etag)
    related_again = _investigator(state, handle)
    post("assign", {"capacity": "investigator", "person": related_again}, sec, etag)
    for query in (f"assignee={handle}", f"assignee={handle}&stage=investigation"):
        listed = client.get(f"/cases?{query}", headers=sec)
        answers.append((listed.status_code, str(len(listed.json()["items"]))))
    for who in (inv, sec):
        detail = client.get(f"/cases/{ref}", headers=who).json()
        assert handle not in json.dumps(detail, ensure_ascii=False)
        answers.append((200, str(sorted(detail["allowed_actions"]))))
    return answers


@BOTH_DATABASES
def test_staff_cannot_tell_the_anonymous_reporter_from_a_stranger(
    client: TestClient, state: AppState, tokens: dict[str, str]
) -> None:
    tokens["reporter"] = _student(state, *REPORTER)
    _student(state, *STRANGER)
    for_reporter = _probe(client, state, tokens, REPORTER[0])
    for_stranger = _probe(client, state, tokens, STRANGER[0])
    assert for_reporter == for_stranger
    # The probes were real refusals, not a uniform error for everything.
    statuses = [status for status, _ in for_reporter]
    assert 422 in statuses and 200 in statuses


def test_refusals_are_on_the_audit_trail_for_oversight_only(
    client: TestClient, state: AppState, tokens: dict[str, str]
) -> None:
    tokens["reporter"] = _student(state, *REPORTER)
    _student(state, *STRANGER)
    ref = client.post("/reports", json=REPORT, headers=bearer(tokens["reporter"])).json()[
        "reference"
    ]
    inv = {**bearer(tokens["inv.wang"]), "If-Match": '"1"'}
    accept = {"category": "cliques", "severity": "minor"}
    for handle in (REPORTER[0], STRANGER[0]):
        refused = client.post(
            f"/cases/{ref}/accept", json={**accept, "investigators": [handle]}, headers=inv
        )
        assert refused.status_code == 422
    wrong_stage = client.post(f"/cases/{ref}/confirm", json={}, headers=inv)
    assert wrong_stage.status_code == 409
    assert wrong_stage.json()["allowed_actions"] == ["accept", "decline", "request_extension"]

    secretary = client.get(f"/cases/{ref}", headers=bearer(tokens["sec.li"])).json()
    refusals = [e for e in secretary["timeline"] if e["action"] == "action.refused"]
    assert [(e["actor"], e["data"]["action"], e["data"]["rule"]) for e in refusals] == [
        ("inv.wang", "accept", "assignee_eligible"),
        ("inv.wang", "accept", "assignee_eligible"),
        ("inv.wang", "confirm", "illegal_action"),
    ]
    # The true reasons differ, and only oversight reads them.
    assert refusals[0]["data"]["reason"].startswith("party_not_handler")
    assert refusals[1]["data"]["reason"].startswith("no role")
    investigator = client.get(f"/cases/{ref}", headers=bearer(tokens["inv.wang"])).json()
    assert not [e for e in investigator["timeline"] if e["action"] == "action.refused"]


@BOTH_DATABASES
@pytest.mark.parametrize("anonymous", [True, False])
def test_the_subject_finds_no_trace_of_the_reporter(
    client: TestClient, state: AppState, tokens: dict[str, str], anonymous: bool
) -> None:
    name, contact = "举报人王五", "wang5@example.edu"
    filed = client.post(
        "/reports",
        json={**REPORT, "anonymous": anonymous, "reporter_name": name, "reporter_contact": contact},
    ).json()
    ref, code = filed["reference"], filed["receipt_code"]
    inv = bearer(tokens["inv.wang"])
    accepted = client.post(
        f"/cases/{ref}/accept",
        json={
            "category": "cliques",
            "severity": "minor",
            "investigators": ["inv.wang"],
            "allegations": "在部门工作中搞小圈子、排斥新成员",
        },
        headers={**inv, "If-Match": '"1"'},
    )
    assert accepted.status_code == 200, accepted.text
    interview = {"interviewee": "证人赵六", "summary": "证实情况", "held_on": "2026-11-20"}
    client.post(
        f"/cases/{ref}/record-interview", json=interview, headers={**inv, "If-Match": '"2"'}
    ).raise_for_status()
    _, subject_token = org.create_token(uow=UnitOfWork(state.db), handle="2023010001", name="t")
    seen = client.get(f"/cases/{ref}", headers=bearer(subject_token))
    assert seen.status_code == 200
    text = json.dumps(seen.json(), ensure_ascii=False)
    for secret in (name, contact, code, "证人赵六", REPORT["details"], REPORT["summary"]):
        assert secret not in text
    view = seen.json()
    assert view["allegations"] == "在部门工作中搞小圈子、排斥新成员"
    assert view["interviews_held"] == 1 and view["interviewees"] is None
    assert view["due_at"] is None and view["deadlines"] is None
    assert "record_statement" in view["allowed_actions"]
    staff = client.get(f"/cases/{ref}", headers=inv).json()
    assert (staff["reporter"] == name) is not anonymous
