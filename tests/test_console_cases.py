"""The console's inbox and case page: the same list_cases, read_case and apply_action as
the API. The forms on a case page are exactly the actions permitted_actions allows; a
case outside one's scope is the same 404 as none at all; reading a case page is audited."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from api.http.app import create_app
from api.http.deps import AppState
from cases.people.sessions import set_password
from cases.procedure import commands as c
from cases.procedure.vocabulary import Stage
from cases.queries import CaseFilter, CaseSort, list_cases
from cases.service import read_case
from cases.store.db import UnitOfWork
from cases.store.models import AuditEvent, ConductCase, Person, Unit
from cases.views import CaseDetail
from tests.helpers import SHA, act, carry_to, file
from tests.test_signin import PASSWORD, sign_in

FORM_ACTION = re.compile(r'data-action="([a-z_]+)"')
PNG = base64.b64decode(  # one transparent pixel
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
STAFF = ("inv.wang", "inv.zhao", "ver.liu", "sec.li", "adv.cs-su", "adv.law-su")


@pytest.fixture
def console(state: AppState, tokens: dict[str, str]) -> Iterator[TestClient]:
    for handle in STAFF:
        set_password(uow=UnitOfWork(state.db), handle=handle, password=PASSWORD)
    with TestClient(create_app(state), client=("192.0.2.8", 50000)) as client:
        yield client


def as_(client: TestClient, handle: str) -> TestClient:
    client.cookies.clear()
    sign_in(client, handle)
    return client


def forms_on(html: str) -> set[str]:
    return set(FORM_ACTION.findall(html))


def _permitted(state: AppState, people: dict[str, Person], reference: str, handle: str) -> set[str]:
    seen = read_case(
        uow=UnitOfWork(state.db), policy=state.policy, reference=reference, viewer=people[handle]
    )
    assert isinstance(seen, CaseDetail)
    return set(seen.allowed_actions)


def _version(state: AppState, reference: str) -> int:
    with UnitOfWork(state.db, write=False) as uow:
        query = select(ConductCase).where(ConductCase.reference == reference)
        return uow.session.exec(query).one().version


def test_the_inbox_lists_my_cases_with_stage_days_left_and_overdue(
    console: TestClient, state: AppState, people: dict[str, Person]
) -> None:
    mine, other = file(state), file(state)
    carry_to(state, people, mine, Stage.INVESTIGATION)
    shown = as_(console, "inv.wang").get("/console")
    assert shown.status_code == 200
    assert mine in shown.text and other not in shown.text  # intake: nobody's yet
    row = shown.text.split(f'id="case-{mine}"')[1].split("</tr>")[0]
    assert "调查" in row and "个工作日" in row
    with UnitOfWork(state.db, write=False) as uow:
        unit = uow.session.exec(select(Unit).where(Unit.code == "cs-su")).one()
    assert unit.name_zh in row and ">cs-su<" not in row  # the unit by its name
    assert '<option value="cs-su">' in shown.text  # the unit filter offers the tree
    everything = console.get("/console?whose=all&lang=en")
    assert mine in everything.text and other in everything.text
    assert "Working days left" in everything.text
    only_intake = console.get("/console?whose=all&stage=intake")
    assert other in only_intake.text and mine not in only_intake.text
    with UnitOfWork(state.db) as uow:  # mark it overdue as the deadline step would
        case = uow.session.exec(select(ConductCase).where(ConductCase.reference == mine)).one()
        case.overdue = True
        uow.commit()
    late = console.get("/console?overdue=1&lang=zh-CN")
    assert f'id="case-{mine}" class="overdue"' in late.text and "已逾期" in late.text
    assert 'href="/console?sort=filed' in late.text and 'href="/console?sort=stage' in late.text


def test_the_inbox_pages_with_the_cursor_and_sorts(
    console: TestClient, state: AppState, people: dict[str, Person]
) -> None:
    refs = [file(state) for _ in range(3)]
    carry_to(state, people, refs[0], Stage.INVESTIGATION)
    by_stage = list_cases(
        uow=UnitOfWork(state.db, write=False),
        viewer=people["sec.li"],
        filters=CaseFilter(),
        limit=2,
        sort=CaseSort.STAGE,
    )
    assert [i.stage for i in by_stage.items] == ["intake", "intake"]
    assert by_stage.next_cursor is not None
    rest = list_cases(
        uow=UnitOfWork(state.db, write=False),
        viewer=people["sec.li"],
        filters=CaseFilter(),
        cursor=by_stage.next_cursor,
        limit=2,
        sort=CaseSort.STAGE,
    )
    assert [i.reference for i in rest.items] == [refs[0]] and rest.next_cursor is None
    page_one = as_(console, "sec.li").get("/console?whose=all&sort=stage")
    assert page_one.text.index(refs[1]) < page_one.text.index(refs[0])
    bad = console.get("/console?whose=all&cursor=nonsense")
    assert bad.status_code == 200 and "翻页链接无效" in bad.text


def test_a_case_page_shows_exactly_the_permitted_actions(
    console: TestClient, state: AppState, people: dict[str, Person]
) -> None:
    reference = file(state)
    for stage, handles in (
        (Stage.INTAKE, ("inv.wang", "sec.li", "ver.liu")),
        (Stage.INVESTIGATION, ("inv.wang", "inv.zhao", "sec.li")),
        (Stage.VERIFICATION, ("inv.wang", "sec.li", "ver.liu")),
        (Stage.DISPOSITION, ("inv.wang", "adv.cs-su", "sec.li")),
    ):
        carry_to(state, people, reference, stage)
        for handle in handles:
            shown = as_(console, handle).get(f"/console/cases/{reference}")
            assert shown.status_code == 200, (stage, handle)
            assert forms_on(shown.text) == _permitted(state, people, reference, handle), (
                stage,
                handle,
            )
    fresh = file(state)
    assert {"accept", "decline"} <= forms_on(
        as_(console, "inv.wang").get(f"/console/cases/{fresh}").text
    )
    assert forms_on(as_(console, "ver.liu").get(f"/console/cases/{fresh}").text) == set()


def test_out_of_scope_is_the_same_404_and_reading_is_audited(
    console: TestClient, state: AppState, people: dict[str, Person]
) -> None:
    reference = file(state)
    outside = as_(console, "adv.law-su").get(f"/console/cases/{reference}")
    missing = console.get("/console/cases/QF-2026-ZZZZ")
    assert outside.status_code == missing.status_code == 404
    assert outside.text == missing.text
    decline = {
        "form_token": _token(console, "/console"),
        "version": _version(state, reference),
        "reason": "out_of_scope",
        "explanation": "不属于受理范围",
    }
    acted = console.post(f"/console/cases/{reference}/decline", data=decline)
    assert acted.status_code == 404 and acted.text == missing.text
    assert _version(state, reference) == decline["version"]  # untouched
    as_(console, "inv.wang").get(f"/console/cases/{reference}")
    with UnitOfWork(state.db, write=False) as uow:
        reads = uow.session.exec(
            select(AuditEvent).where(
                AuditEvent.action == "case.read",
                col(AuditEvent.actor_id) == people["inv.wang"].id,
            )
        ).all()
        refused = uow.session.exec(
            select(AuditEvent).where(
                col(AuditEvent.actor_id) == people["adv.law-su"].id,
                col(AuditEvent.case_id).is_not(None),
            )
        ).all()
    assert len(reads) == 1
    assert refused == []  # the outsider's attempts left no trace on the case


def _token(client: TestClient, path: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def test_accepting_through_the_form_and_someone_else_first(
    console: TestClient, state: AppState, people: dict[str, Person]
) -> None:
    reference = file(state)
    client = as_(console, "inv.wang")
    page = f"/console/cases/{reference}"
    token = _token(client, page)
    version = _version(state, reference)
    empty = client.post(f"{page}/accept", data={"form_token": token, "version": version})
    assert empty.status_code == 422
    assert 'id="e-accept-category"' in empty.text and "必填" in empty.text
    form = {
        "form_token": token,
        "version": version,
        "category": "formalism",
        "severity": "serious",
        "investigators": ["inv.wang"],
    }
    done = client.post(f"{page}/accept", data=form, follow_redirects=False)
    assert done.status_code == 303, done.text
    shown = client.get(done.headers["location"])
    assert "已办理：立案受理" in shown.text and 'data-action="accept"' not in shown.text
    assert forms_on(shown.text) == _permitted(state, people, reference, "inv.wang")
    seen = _version(state, reference)
    act(state, people, reference, "inv.wang", c.RecordEvidence(description="照片", sha256=SHA))
    evidence = {"form_token": token, "version": seen, "description": "录音", "sha256": SHA}
    stale = client.post(f"{page}/record-evidence", data=evidence)
    assert stale.status_code == 409 and "其他人已先一步办理了此案" in stale.text
    assert f'name="version" value="{_version(state, reference)}"' in stale.text
    evidence["version"] = _version(state, reference)
    uploaded = client.post(
        f"{page}/record-evidence",
        data={k: v for k, v in evidence.items() if k != "sha256"},
        files={"file": ("photo.png", PNG, "image/png")},
        follow_redirects=False,
    )
    assert uploaded.status_code == 303, uploaded.text
    link = re.search(
        rf'href="(/console/cases/{reference}/evidence/\d+/file)"', client.get(page).text
    )
    assert link, "the uploaded item has a download link"
    got = client.get(link.group(1))
    assert got.status_code == 200 and got.content.startswith(b"\x89PNG")  # re-encoded, clean
    with UnitOfWork(state.db, write=False) as uow:
        query = select(AuditEvent).where(AuditEvent.action == "evidence.downloaded")
        assert len(uow.session.exec(query).all()) == 1  # audited like the API's download
    no_token = client.post(f"{page}/record-evidence", data={"version": evidence["version"]})
    assert no_token.status_code == 403


def test_messages_are_shown_only_to_those_who_may_answer(
    console: TestClient, state: AppState, people: dict[str, Person]
) -> None:
    reference = file(state)
    client = as_(console, "inv.wang")
    page = f"/console/cases/{reference}"
    token = _token(client, page)
    reply = {"form_token": token, "body": "请补充材料"}
    sent = client.post(f"{page}/messages", data=reply, follow_redirects=False)
    assert sent.status_code == 303
    assert "请补充材料" in client.get(page).text
    assert 'id="messages"' not in as_(console, "ver.liu").get(page).text


def test_a_refusal_is_shown_beside_the_field_it_names(
    console: TestClient, state: AppState, people: dict[str, Person]
) -> None:
    reference = file(state)
    carry_to(state, people, reference, Stage.VERIFICATION)
    client = as_(console, "sec.li")
    page = f"/console/cases/{reference}"
    assign = {
        "form_token": _token(client, page),
        "version": _version(state, reference),
        "capacity": "verifier",
        "person": "inv.zhao",  # holds no verifier role
    }
    refused = client.post(f"{page}/assign", data=assign)
    assert refused.status_code == 422, refused.text  # as the API answers an ineligible assignee
    assert 'id="e-assign-person"' in refused.text
    assert 'aria-invalid="true" aria-describedby="e-assign-person"' in refused.text
    assert '<option value="inv.zhao" selected>' in refused.text  # what was chosen, kept


def test_the_due_date_is_explained_on_its_own_page(
    console: TestClient, state: AppState, people: dict[str, Person]
) -> None:
    reference = file(state)
    client = as_(console, "inv.wang")
    shown = client.get(f"/console/cases/{reference}/due-date?lang=en")
    assert shown.status_code == 200
    assert f"How {reference}&#39;s due date is counted" in shown.text
    assert shown.text.count("<tr>") >= 4  # the heading and every day counted or skipped
    assert as_(console, "adv.law-su").get(f"/console/cases/{reference}/due-date").status_code == 404


def test_every_form_has_its_words_in_both_languages(state: AppState) -> None:
    from api.http.console.action_forms import form_for
    from api.http.console.texts import TEXTS
    from cases.procedure.vocabulary import Action

    for action in Action:
        form = form_for(action, policy=state.policy, staff=[], language="en", t=TEXTS.__getitem__)
        assert f"do.{action.value}" in TEXTS
        # form_for looks each literal choice up ("choice.<value>"): a missing one raised
        assert all(f"cf.{f.name}" in TEXTS for f in form.fields), action
