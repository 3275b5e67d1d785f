"""End-to-end over HTTP on a real SQLite file: a case through return, refusal and appeal."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import BOTH_DATABASES, bearer
from tests.helpers import SHA

REPORT = {
    "unit": "cs-su",
    "subject_handle": "2023010001",
    "subject_name": "张三",
    "summary": "学生会干部搞圈子",
    "details": "在部门内搞小圈子,排斥新成员。",
}


class Staff:
    """Acts on one case as the people of the demo organisation, carrying the ETag along."""

    def __init__(self, client: TestClient, tokens: dict[str, str], reference: str) -> None:
        self.client, self.tokens, self.reference = client, tokens, reference
        self.etag = '"1"'

    def do(
        self, who: str, path: str, body: dict[str, Any] | None = None, status: int = 200
    ) -> dict[str, Any]:
        response = self.client.post(
            f"/cases/{self.reference}/{path}",
            json=body or {},
            headers={**bearer(self.tokens[who]), "If-Match": self.etag},
        )
        assert response.status_code == status, response.text
        if status == 200:
            self.etag = response.headers["ETag"]
        return dict(response.json())


def _file(client: TestClient, **extra: Any) -> dict[str, Any]:
    response = client.post("/reports", json={**REPORT, **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


@BOTH_DATABASES
def test_case_through_return_refusal_and_appeal(client: TestClient, tokens: dict[str, str]) -> None:
    filed = _file(client)
    assert filed["reference"].startswith("QF-") and len(filed["receipt_code"]) == 19
    staff = Staff(client, tokens, filed["reference"])
    staff.do(
        "inv.wang",
        "accept",
        {"category": "cliques", "severity": "serious", "investigators": ["inv.wang", "inv.zhao"]},
    )
    staff.do("inv.zhao", "record-evidence", {"description": "聊天记录截图", "sha256": SHA})
    staff.do(
        "inv.wang",
        "record-interview",
        {"interviewee": "部门成员", "summary": "证实", "held_on": "2026-11-20"},
    )
    staff.do("inv.wang", "record-statement", {"statement": "被反映人陈述"})
    findings = {
        "result": "partly_substantiated",
        "summary": "部分属实",
        "recommended_disposition": "warning",
    }
    staff.do("inv.wang", "submit-findings", findings)
    staff.do("sec.li", "assign", {"capacity": "verifier", "person": "ver.liu"})
    returned = staff.do("ver.liu", "return-findings", {"reasons": ["缺少当事人以外的证言"]})
    assert (returned["stage"], returned["returns_count"]) == ("investigation", 1)
    assert isinstance(returned["due_provisional"], bool) and returned["due_at"]
    staff.do("inv.wang", "submit-findings", findings)
    staff.do("ver.liu", "confirm", {"comment": "属实"})
    staff.do("inv.wang", "propose", {"disposition": "warning", "rationale": "情节较重"})
    refused = staff.do("adv.cs-su", "refuse", {"comments": "建议从轻"})
    assert refused["stage"] == "disposition" and refused["proposed_disposition"] is None
    staff.do("inv.wang", "propose", {"disposition": "public_criticism", "rationale": "从轻"})
    assert staff.do("adv.cs-su", "sign-off")["stage"] == "disposition"  # awaits co-sign
    decided = staff.do("sec.li", "co-sign")
    assert decided["stage"] == "appeal_window" and decided["decision"] == "public_criticism"

    subject_token = client.post(
        "/admin/people/2023010001/tokens", json={"name": "申诉"}, headers=bearer(tokens["admin"])
    ).json()["token"]
    staff.tokens = {**tokens, "subject": subject_token}
    seen_by_subject = client.get(f"/cases/{staff.reference}", headers=bearer(subject_token))
    assert seen_by_subject.status_code == 200 and "reporter" not in seen_by_subject.json()
    staff.do("subject", "appeal", {"grounds": "处理过重"})
    staff.do("sec.li", "assign", {"capacity": "appeal_reviewer", "person": "rev.zhou"})
    closed = staff.do(
        "rev.zhou",
        "decide-appeal",
        {"outcome": "change", "disposition": "criticism", "reasons": ["情节较轻"]},
    )
    assert (closed["stage"], closed["decision"], closed["appeal_outcome"]) == (
        "closed",
        "criticism",
        "change",
    )
    case_file = client.get(f"/cases/{staff.reference}", headers=bearer(tokens["sec.li"])).json()
    actions = [e["action"] for e in case_file["timeline"]]
    assert actions.count("case.return_findings") == 1 and actions.count("case.refuse") == 1
    assert actions[0] == "case.filed" and actions[-1] == "case.decide_appeal"


def test_errors_are_problem_json_with_the_field(client: TestClient, tokens: dict[str, str]) -> None:
    bad = client.post("/reports", json={**REPORT, "summary": ""})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    body = bad.json()
    assert body["field"] == "summary" and body["type"] == "/problems/invalid-input"
    assert body["title"] and "summary" in body["detail"]

    unknown_unit = client.post("/reports", json={**REPORT, "unit": "nowhere"}).json()
    assert unknown_unit["field"] == "unit" and unknown_unit["status"] == 422

    ref = _file(client)["reference"]
    headers = bearer(tokens["inv.wang"])
    accept = {"category": "cliques", "severity": "minor", "investigators": ["inv.wang"]}
    no_etag = client.post(f"/cases/{ref}/accept", json=accept, headers=headers)
    assert no_etag.status_code == 428 and no_etag.json()["field"] == "If-Match"
    illegal = client.post(f"/cases/{ref}/confirm", json={}, headers={**headers, "If-Match": '"1"'})
    assert illegal.status_code == 409
    # What this viewer may do now (inv.wang: triage), as on a successful answer.
    assert illegal.json()["allowed_actions"] == ["accept", "decline", "request_extension"]
    assert illegal.json()["stage"] == "intake"
    bad_code = client.post(
        f"/cases/{ref}/accept",
        json={**accept, "category": "nope"},
        headers={**headers, "If-Match": '"1"'},
    )
    assert bad_code.status_code == 422 and bad_code.json()["field"] == "category"
    ok = client.post(f"/cases/{ref}/accept", json=accept, headers={**headers, "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"'
    stale = client.post(
        f"/cases/{ref}/decline",
        json={"reason": "duplicate"},
        headers={**headers, "If-Match": '"1"'},
    )
    assert stale.status_code == 422 and stale.json()["field"].startswith("explanation")
    stale = client.post(f"/cases/{ref}/record", json={}, headers={**headers, "If-Match": '"1"'})
    assert stale.status_code == 404
    stale = client.post(
        f"/cases/{ref}/record-evidence",
        json={"description": "x", "sha256": SHA},
        headers={**headers, "If-Match": '"1"'},
    )
    assert stale.status_code == 412 and stale.json()["type"] == "/problems/version-conflict"
    assert client.get("/cases", headers={"Authorization": "Bearer nope"}).status_code == 401
    forged = client.post(
        f"/cases/{ref}/record-evidence",
        json={"description": "x", "sha256": SHA},
        headers={"Authorization": "Bearer qf_x_y", "If-Match": '"2"'},
    )
    assert forged.status_code == 401 and forged.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/cases").status_code == 401
    garbage = client.get("/cases/not-a-reference", headers=headers)
    assert garbage.status_code == 422 and garbage.json()["field"] == "reference"


def test_case_outside_scope_is_404(client: TestClient, tokens: dict[str, str]) -> None:
    ref = _file(client, unit="law-su")["reference"]
    outsider = client.get(f"/cases/{ref}", headers=bearer(tokens["adv.cs-su"]))
    missing = client.get("/cases/QF-2026-99999", headers=bearer(tokens["adv.cs-su"]))
    assert outsider.status_code == missing.status_code == 404
    assert outsider.json()["detail"].replace(ref, "X") == missing.json()["detail"].replace(
        "QF-2026-99999", "X"
    )
    assert client.get(f"/cases/{ref}", headers=bearer(tokens["adv.law-su"])).status_code == 200


@BOTH_DATABASES
def test_idempotency_key_replays_and_rejects_a_changed_body(
    client: TestClient, tokens: dict[str, str]
) -> None:
    first = client.post("/reports", json=REPORT, headers={"Idempotency-Key": "k-1"})
    again = client.post("/reports", json=REPORT, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()  # the same reference and the same receipt code
    assert again.headers["Idempotent-Replayed"] == "true"
    changed = client.post(
        "/reports", json={**REPORT, "summary": "别的"}, headers={"Idempotency-Key": "k-1"}
    )
    assert changed.status_code == 422 and changed.json()["field"] == "Idempotency-Key"

    ref = first.json()["reference"]
    headers = {**bearer(tokens["inv.wang"]), "If-Match": '"1"', "Idempotency-Key": "acc-1"}
    accept = {"category": "cliques", "severity": "minor", "investigators": ["inv.wang"]}
    one = client.post(f"/cases/{ref}/accept", json=accept, headers=headers)
    two = client.post(f"/cases/{ref}/accept", json=accept, headers=headers)
    assert one.status_code == two.status_code == 200 and one.json() == two.json()
    detail = client.get(f"/cases/{ref}", headers=bearer(tokens["inv.wang"])).json()
    assert detail["version"] == 2
    assert [e["action"] for e in detail["timeline"]].count("case.accept") == 1
    listing = client.get("/cases", headers=bearer(tokens["sec.li"])).json()["items"]
    assert sum(1 for item in listing if item["reference"] == ref) == 1


@BOTH_DATABASES
def test_list_filters_and_cursor_pages(client: TestClient, tokens: dict[str, str]) -> None:
    refs = [_file(client, unit=unit)["reference"] for unit in ["cs-su", "law-su"] * 3]
    headers = bearer(tokens["sec.li"])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = client.get("/cases", params=params, headers=headers).json()
        seen += [i["reference"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(refs, reverse=True)
    law = client.get("/cases", params={"unit": "law-su"}, headers=headers).json()["items"]
    assert {i["unit"] for i in law} == {"law-su"} and len(law) == 3
    advisor = client.get("/cases", headers=bearer(tokens["adv.cs-su"])).json()["items"]
    assert {i["unit"] for i in advisor} == {"cs-su"}
    intake = client.get(
        "/cases", params={"stage": "intake", "filed_from": "2000-01-01T00:00:00Z"}, headers=headers
    ).json()["items"]
    assert len(intake) == 6
    assert (
        client.get("/cases", params={"assignee": "inv.wang"}, headers=headers).json()["items"] == []
    )
    bad = client.get("/cases", params={"cursor": "garbage!"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["field"] == "cursor"
    bad = client.get("/cases", params={"stage": "limbo"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["field"] == "stage"


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    assert "/cases/{reference}/accept" in client.get("/openapi.json").json()["paths"]


def test_tokens_can_be_revoked(client: TestClient, tokens: dict[str, str]) -> None:
    token_id = tokens["inv.zhao"].split("_")[1]
    headers = bearer(tokens["inv.zhao"])
    assert client.get("/me", headers=headers).json()["roles"] == ["investigator"]
    assert client.delete(f"/admin/tokens/{token_id}", headers=headers).status_code == 204
    assert client.get("/me", headers=headers).status_code == 401
    other = client.post(
        "/admin/people/inv.wang/tokens", json={"name": "x"}, headers=bearer(tokens["ver.liu"])
    )
    assert other.status_code == 403


def test_named_reporter_is_shown_to_staff_never_to_the_subject(
    client: TestClient, tokens: dict[str, str], state: Any
) -> None:
    filed = _file(
        client, anonymous=False, reporter_name="李同学", reporter_contact="li@example.edu"
    )
    ref = filed["reference"]
    staff_view = client.get(f"/cases/{ref}", headers=bearer(tokens["sec.li"])).json()
    assert staff_view["reporter"] == "李同学"
    subject_token = client.post(
        "/admin/people/2023010001/tokens", json={"name": "t"}, headers=bearer(tokens["admin"])
    ).json()["token"]
    subject_view = client.get(f"/cases/{ref}", headers=bearer(subject_token)).json()
    assert "reporter" not in subject_view
    assert "李同学" not in str(subject_view) and "li@example.edu" not in str(subject_view)
    # Only a hash of the receipt code is stored, anywhere in the database (either engine).
    from sqlalchemy import MetaData, select

    tables = MetaData()
    tables.reflect(state.db.reader)
    with state.db.reader.connect() as raw:
        dump = "\n".join(
            str(tuple(row)) for table in tables.sorted_tables for row in raw.execute(select(table))
        )
    assert filed["receipt_code"] not in dump
    assert "$argon2id$" in dump
