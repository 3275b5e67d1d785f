"""The advisor's sign-off page and the secretary's board, through a signed-in console
session: exactly the permitted forms, signing and refusing through them, a stale version
refused with the clear message and nothing changed, 404 outside the advisor's cases; the
board's overdue case (deadlines fired with time moved by time_machine), an extension
granted through its form, a co-signature waiting and an appeal assigned."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import select

from api.http.app import create_app
from api.http.deps import AppState
from cases.board import board_of, proposals_to_sign
from cases.deadlines.calendar import add_working_days
from cases.firing import fire_due_steps
from cases.people.directory import add_person
from cases.people.sessions import set_password
from cases.procedure import commands as c
from cases.procedure.clock import local_date, utcnow
from cases.procedure.vocabulary import Role, Stage
from cases.store.db import UnitOfWork
from cases.store.models import (
    AuditEvent,
    ConductCase,
    DeadlineExtension,
    ExtensionState,
    Person,
)
from tests.helpers import act, carry_to, file
from tests.test_signin import PASSWORD, sign_in

FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
VERSION = re.compile(r'name="version" value="(\d+)"')
Console = Callable[[str], TestClient]


@pytest.fixture
def console(state: AppState, tokens: dict[str, str]) -> Iterator[Console]:
    """A signed-in console client for a demo staff member (one browser each)."""
    with _clients(state) as make:
        yield make


@contextmanager
def _clients(state: AppState) -> Iterator[Console]:
    opened: list[TestClient] = []

    def make(handle: str) -> TestClient:
        set_password(uow=UnitOfWork(state.db), handle=handle, password=PASSWORD)
        client = TestClient(create_app(state), client=(f"192.0.2.{len(opened) + 10}", 50000))
        client.__enter__()
        opened.append(client)
        sign_in(client, handle)
        return client

    try:
        yield make
    finally:
        for client in opened:
            client.__exit__(None, None, None)


def _proposed(state: AppState, people: dict[str, Person], disposition: str = "warning") -> str:
    """A case in disposition (cs-su) with a proposal waiting for adv.cs-su."""
    ref = file(state)
    carry_to(state, people, ref, Stage.DISPOSITION)
    act(state, people, ref, "inv.wang", c.Propose(disposition=disposition, rationale="情节较重"))
    return ref


def _case(state: AppState, ref: str) -> ConductCase:
    with UnitOfWork(state.db, write=False) as uow:
        return uow.session.exec(select(ConductCase).where(ConductCase.reference == ref)).one()


def _forms(html: str) -> set[str]:
    return set(re.findall(r'id="form-([a-z_]+)"', html))


def _post(client: TestClient, path: str, page: str, **fields: str) -> Response:
    shown = client.get(page)
    token = FORM_TOKEN.search(shown.text)
    assert token, shown.text
    return client.post(path, data={"form_token": token.group(1), **fields}, follow_redirects=False)


def test_the_advisor_sees_the_proposal_and_exactly_sign_and_refuse(
    state: AppState, people: dict[str, Person], console: Console
) -> None:
    ref = _proposed(state, people)
    adv = console("adv.cs-su")
    listed = adv.get("/console/signoff")
    assert listed.status_code == 200 and f'id="case-{ref}"' in listed.text
    shown = adv.get(f"/console/signoff/{ref}")
    assert shown.status_code == 200, shown.text
    assert "警告" in shown.text and "情节较重" in shown.text  # the proposal and its rationale
    assert "属实" in shown.text and "ver.liu" not in shown.text  # findings; the verifier by name
    assert "刘核实" in shown.text
    assert _forms(shown.text) == {"sign_off", "refuse"}
    assert VERSION.findall(shown.text) == [str(_case(state, ref).version)] * 2
    with UnitOfWork(state.db, write=False) as uow:  # the read is audited
        reads = uow.session.exec(
            select(AuditEvent).where(
                AuditEvent.action == "case.read", AuditEvent.actor_id == people["adv.cs-su"].id
            )
        ).all()
    assert len(reads) == 1
    english = adv.get(f"/console/signoff/{ref}?lang=en")
    assert "Warning" in english.text and "Sign off" in english.text


def test_the_advisor_signs_through_the_form(
    state: AppState, people: dict[str, Person], console: Console
) -> None:
    ref = _proposed(state, people)
    adv = console("adv.cs-su")
    page = f"/console/signoff/{ref}"
    version = str(_case(state, ref).version)
    answer = _post(adv, f"{page}/sign_off", page, version=version, comment="同意")
    assert answer.status_code == 303 and answer.headers["location"] == f"{page}?done=sign_off"
    case = _case(state, ref)
    assert case.advisor_signed_by == people["adv.cs-su"].id and case.stage == Stage.DISPOSITION
    after = adv.get(answer.headers["location"])
    assert "已签署同意。" in after.text and _forms(after.text) == set()  # nothing more for them
    assert ref not in adv.get("/console/signoff").text
    # the secretary co-signs from the same page (a warning needs the co-signature)
    sec = console("sec.li")
    assert _forms(sec.get(page).text) == {"co_sign", "refuse"}


def test_refusing_needs_comments_and_then_clears_the_proposal(
    state: AppState, people: dict[str, Person], console: Console
) -> None:
    ref = _proposed(state, people)
    adv = console("adv.cs-su")
    page = f"/console/signoff/{ref}"
    version = str(_case(state, ref).version)
    empty = _post(adv, f"{page}/refuse", page, version=version, comments="  ")
    assert empty.status_code == 422
    assert 'id="e-refuse"' in empty.text and "请填写此项。" in empty.text
    assert _case(state, ref).proposed_disposition == "warning"
    done = _post(adv, f"{page}/refuse", page, version=version, comments="处理偏重，请重新研究")
    assert done.status_code == 303
    case = _case(state, ref)
    assert case.proposed_disposition is None and case.version == int(version) + 1
    after = adv.get(f"{page}?done=refuse")
    assert "已退回处理意见。" in after.text and "处理偏重，请重新研究" in after.text
    assert _forms(after.text) == set() and 'id="nothing-to-do"' in after.text


def test_a_stale_version_is_the_clear_message_and_nothing_changes(
    state: AppState, people: dict[str, Person], console: Console
) -> None:
    ref = _proposed(state, people)
    adv = console("adv.cs-su")
    page = f"/console/signoff/{ref}"
    stale = str(_case(state, ref).version - 1)
    answer = _post(adv, f"{page}/sign_off", page, version=stale, comment="同意")
    assert answer.status_code == 409
    assert "其他人已先一步办理了此案" in answer.text
    case = _case(state, ref)
    assert case.advisor_signed_by is None and case.version == int(stale) + 1


def test_others_get_404(state: AppState, people: dict[str, Person], console: Console) -> None:
    ref = _proposed(state, people)
    page = f"/console/signoff/{ref}"
    for handle in ("adv.law-su", "inv.wang", "ver.liu"):  # out of scope; in scope, not advisor
        client = console(handle)
        assert client.get(page).status_code == 404, handle
        assert ref not in client.get("/console/signoff").text
        version = str(_case(state, ref).version)
        token = FORM_TOKEN.search(client.get("/console/signoff").text)
        assert token
        answer = client.post(
            f"{page}/sign_off", data={"form_token": token.group(1), "version": version}
        )
        assert answer.status_code == 404, handle
    assert _case(state, ref).advisor_signed_by is None
    assert console("adv.cs-su").get("/console/signoff/QF-2000-99999").status_code == 404


ACCEPTED = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)
ACCEPT = c.Accept(category="other", severity="minor", investigators=["inv.wang"])


def test_the_board_is_the_secretarys_only(
    state: AppState, people: dict[str, Person], console: Console
) -> None:
    for handle in ("adv.cs-su", "inv.wang", "admin"):
        client = console(handle)
        assert client.get("/console/board").status_code == 404, handle
        token = FORM_TOKEN.search(client.get("/console/signoff").text)
        assert token
        answer = client.post(
            "/console/board/QF-2026-00001/assign",
            data={"form_token": token.group(1), "version": "1", "person": "rev.zhou"},
        )
        assert answer.status_code == 404, handle
    assert console("sec.li").get("/console/board").status_code == 200


def test_the_board_lists_an_overdue_case_by_unit(
    state: AppState, people: dict[str, Person], console: Console
) -> None:
    """The case's deadline steps fired 60 days on (time moved with time_machine)."""
    late = file(state, unit="law-su", now=ACCEPTED)
    act(state, people, late, "inv.wang", ACCEPT, now=ACCEPTED)
    on_time = file(state, unit="law-su")
    with time_machine.travel(ACCEPTED + timedelta(days=60), tick=False):
        fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=datetime.now(UTC))
    shown = console("sec.li").get("/console/board")
    assert shown.status_code == 200, shown.text
    group = shown.text.split('id="unit-law-su"')[1].split("</table>")[0]
    assert "法学院学生会" in group and f'id="overdue-{late}"' in group
    assert "二级督办" in group and "红色警示" in group  # the last step fired, its flag
    assert on_time not in shown.text
    english = console("sec.li").get("/console/board?lang=en")
    assert "Law School Student Union" in english.text and "red flag" in english.text


def test_an_extension_request_is_granted_through_the_board(
    state: AppState, people: dict[str, Person], console: Console
) -> None:
    ref = file(state)
    act(state, people, ref, "inv.wang", ACCEPT)
    asked = add_working_days(local_date(_case(state, ref).due_at or utcnow()), 5)
    act(state, people, ref, "inv.wang", c.RequestExtension(reason="需要补充取证", due_on=asked))
    sec = console("sec.li")
    shown = sec.get("/console/board")
    assert f'id="extension-{ref}"' in shown.text and "需要补充取证" in shown.text
    version = str(_case(state, ref).version)
    path = f"/console/board/{ref}/refuse_extension"
    unexplained = _post(sec, path, "/console/board", version=version, reason="")
    assert unexplained.status_code == 422 and f'id="e-{ref}-reason"' in unexplained.text
    granted = _post(
        sec, f"/console/board/{ref}/grant_extension", "/console/board", version=version, due_on=""
    )
    assert granted.status_code == 303, granted.text
    after = sec.get(granted.headers["location"])
    assert f"{ref} 已批准延期。" in after.text and f'id="extension-{ref}"' not in after.text
    with UnitOfWork(state.db, write=False) as uow:
        request = uow.session.exec(select(DeadlineExtension)).one()
    assert (request.state, request.granted_due_on) == (ExtensionState.GRANTED, asked)
    assert local_date(_case(state, ref).due_at or utcnow()) == asked


def test_a_cosignature_waiting_links_to_the_signoff_page(
    state: AppState, people: dict[str, Person], console: Console
) -> None:
    ref = _proposed(state, people)
    sec = console("sec.li")
    assert f'id="cosign-{ref}"' not in sec.get("/console/board").text  # not signed yet
    act(state, people, ref, "adv.cs-su", c.SignOff())
    shown = sec.get("/console/board")
    row = shown.text.split(f'id="cosign-{ref}"')[1].split("</tr>")[0]
    assert f'href="/console/signoff/{ref}"' in row and "警告" in row and "cs-su 指导教师" in row
    version = str(_case(state, ref).version)
    page = f"/console/signoff/{ref}"
    assert _post(sec, f"{page}/co_sign", page, version=version).status_code == 303
    assert _case(state, ref).stage == Stage.APPEAL_WINDOW
    assert f'id="cosign-{ref}"' not in sec.get("/console/board").text


def test_an_appeal_is_assigned_despite_a_conflict_and_the_override_is_listed(
    state: AppState, people: dict[str, Person], console: Console
) -> None:
    add_person(
        uow=UnitOfWork(state.db),
        handle="ver.cs",
        name="同院核实",
        unit="cs-su",
        roles=[(Role.VERIFIER, "league")],
    )
    ref = file(state)
    carry_to(state, people, ref, Stage.APPEAL_REVIEW)
    sec = console("sec.li")
    shown = sec.get("/console/board")
    assert f'id="appeal-{ref}"' in shown.text and "没有利益冲突仍指派的记录。" in shown.text
    path, version = f"/console/board/{ref}/assign", str(_case(state, ref).version)
    stale = _post(sec, path, "/console/board", version=str(int(version) - 1), person="rev.zhou")
    assert stale.status_code == 409 and "其他人已先一步办理了此案" in stale.text
    conflict = _post(sec, path, "/console/board", version=version, person="ver.cs")
    assert conflict.status_code == 409 and f'id="e-{ref}-person"' in conflict.text  # beside it
    assert "same unit as the subject" in conflict.text
    assigned = _post(
        sec,
        path,
        "/console/board",
        version=version,
        person="ver.cs",
        override_reason="本单位熟悉情况，已报备",
    )
    assert assigned.status_code == 303, assigned.text
    after = sec.get(assigned.headers["location"])
    assert f'id="appeal-{ref}"' not in after.text
    override = after.text.split('class="override"')[1].split("</tr>")[0]
    assert ref in override and "ver.cs" in override and "本单位熟悉情况，已报备" in override
    assert "sec.li" in override and "复查人" in override
    assert (
        proposals_to_sign(uow=UnitOfWork(state.db), viewer=people["sec.li"], policy=state.policy)
        == []
    )
    board = board_of(uow=UnitOfWork(state.db), viewer=people["adv.law-su"], policy=state.policy)
    assert board.overrides == [] and board.appeals == []  # an advisor's scope: not cs-su
