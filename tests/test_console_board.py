"""The advisor's sign-off page and the secretary's board, through a signed-in console
session: exactly the permitted forms, signing and refusing through them, a stale version
refused with the clear message and nothing changed, 404 outside the advisor's cases; the
board's overdue case (deadlines fired with time moved by time_machine), an extension
granted through its form, a co-signature waiting and an appeal assigned."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import select

from api.http.app import create_app
from api.http.deps import AppState
from cases.people.sessions import set_password
from cases.procedure import commands as c
from cases.procedure.vocabulary import Stage
from cases.store.db import UnitOfWork
from cases.store.models import AuditEvent, ConductCase, Person
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
