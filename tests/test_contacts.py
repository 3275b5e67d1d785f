"""Staff add or correct a person's contact details: the API, the CLI, the audit trail, and
a reported subject who gets a mailbox and then receives the notices meant for them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlmodel import col, select
from typer.testing import CliRunner

from api.cli.main import app as cli
from api.http.deps import AppState
from cases.audit import SYSTEM_CHAIN
from cases.outbox import DELIVERY
from cases.people.directory import add_person
from cases.procedure.vocabulary import Role, Stage
from cases.store.db import Database, UnitOfWork
from cases.store.models import AuditEvent, OutboxRow, Person
from config.settings import get_settings
from tests.conftest import bearer
from tests.helpers import carry_to, file
from tests.notify_helpers import dispatcher, run_stage_work
from tests.receivers import smtp_server

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Shanghai


def _person(state: AppState, handle: str) -> Person:
    with UnitOfWork(state.db, write=False) as uow:
        return uow.session.exec(select(Person).where(Person.handle == handle)).one()


@pytest.fixture
def outsider(state: AppState, tokens: dict[str, str]) -> str:
    """An investigator of the law school only: cs-su's cases are not theirs to see."""
    _, token = add_person(
        uow=UnitOfWork(state.db),
        handle="inv.law",
        name="法调查",
        unit="law-su",
        roles=[(Role.INVESTIGATOR, "law-su")],
        with_token=True,
    )
    assert token is not None
    return token


def test_admin_sets_and_clears_anyones_contact_details(
    client: TestClient, state: AppState, tokens: dict[str, str]
) -> None:
    body = {"email": " li@univ.example ", "phone": "+86 139-0000-2222", "language": "en"}
    r = client.patch("/people/sec.li", json=body, headers=bearer(tokens["admin"]))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "handle": "sec.li",
        "name": "李书记",
        "email": "li@univ.example",
        "phone": "+86 139-0000-2222",
        "language": "en",
    }
    r = client.patch("/people/sec.li", json={"phone": ""}, headers=bearer(tokens["admin"]))
    assert r.status_code == 200 and r.json()["phone"] is None
    stored = _person(state, "sec.li")
    assert (stored.email, stored.phone, stored.language) == ("li@univ.example", None, "en")


def test_investigator_completes_the_subject_of_a_case_in_scope(
    client: TestClient, state: AppState, tokens: dict[str, str]
) -> None:
    file(state, subject="stu.new")  # a new directory entry: a name, no mailbox
    assert _person(state, "stu.new").email is None
    r = client.patch(
        "/people/stu.new",
        json={"name": "张新", "email": "zhang.new@univ.example"},
        headers=bearer(tokens["inv.wang"]),
    )
    assert r.status_code == 200, r.text
    stored = _person(state, "stu.new")
    assert (stored.name, stored.email) == ("张新", "zhang.new@univ.example")


def test_out_of_scope_unknown_or_hidden_people_are_not_found(
    client: TestClient, state: AppState, tokens: dict[str, str], outsider: str
) -> None:
    file(state, subject="stu.cs")
    change = {"email": "x@univ.example"}
    for handle, token in [
        ("stu.cs", outsider),  # the case is in another unit
        ("nobody", tokens["inv.wang"]),  # no such person
        ("ver.liu", tokens["inv.wang"]),  # staff, on no case as a party
    ]:
        r = client.patch(f"/people/{handle}", json=change, headers=bearer(token))
        assert r.status_code == 404, (handle, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == "handle"
    assert _person(state, "stu.cs").email is None


def test_an_anonymous_reporter_stays_hidden_and_a_named_one_is_editable(
    client: TestClient, state: AppState, tokens: dict[str, str]
) -> None:
    reporter, _ = add_person(uow=UnitOfWork(state.db), handle="stu.rep", name="举报人")
    file(state, reporter=reporter, anonymous=True)
    r = client.patch(
        "/people/stu.rep", json={"phone": "13900001111"}, headers=bearer(tokens["inv.wang"])
    )
    assert r.status_code == 404  # the answer must not tell who filed an anonymous report
    file(state, reporter=reporter, anonymous=False)
    r = client.patch(
        "/people/stu.rep", json={"phone": "13900001111"}, headers=bearer(tokens["inv.wang"])
    )
    assert r.status_code == 200, r.text


def test_someone_without_a_staff_role_is_forbidden(
    client: TestClient, state: AppState, tokens: dict[str, str]
) -> None:
    r = client.patch("/people/sec.li", json={"name": "x"}, headers=bearer(tokens["adv.cs-su"]))
    assert r.status_code == 403 and r.json()["type"] == "/problems/forbidden"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"phone": "123"}, "phone"),
        ({"language": "fr"}, "language"),
        ({"name": "  "}, "name"),
        ({"nickname": "x"}, "nickname"),  # extra fields are refused
        ({}, None),  # nothing to change
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    client: TestClient,
    state: AppState,
    tokens: dict[str, str],
    body: dict[str, str],
    field: str | None,
) -> None:
    r = client.patch("/people/sec.li", json=body, headers=bearer(tokens["admin"]))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json().get("field") == field
    assert _person(state, "sec.li").email == "sec.li@qingfeng.example"  # unchanged


def test_the_audit_event_names_the_fields_never_the_values(
    client: TestClient, state: AppState, tokens: dict[str, str], people: dict[str, Person]
) -> None:
    body = {"email": "new.li@univ.example", "phone": "13900003333", "name": "李书记"}
    r = client.patch("/people/sec.li", json=body, headers=bearer(tokens["admin"]))
    assert r.status_code == 200
    with UnitOfWork(state.db, write=False) as uow:
        [event] = uow.session.exec(
            select(AuditEvent).where(
                AuditEvent.chain == SYSTEM_CHAIN, AuditEvent.action == "person.updated"
            )
        ).all()
    # The name was already so: only what changed is listed.
    assert json.loads(event.data) == {"handle": "sec.li", "fields": ["email", "phone"]}
    assert event.actor_id == people["admin"].id
    assert "new.li" not in event.data and "3333" not in event.data


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("QINGFENG_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("QINGFENG_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    assert CliRunner().invoke(cli, ["migrate"]).exit_code == 0
    yield tmp_path
    get_settings.cache_clear()


def test_the_cli_updates_and_names_the_bad_field(data_dir: Path) -> None:
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli, list(args))
        return result.exit_code, result.output

    assert run("users", "add", "stu.a", "--name", "甲")[0] == 0
    code, out = run("users", "update", "stu.a", "--email", "a@univ.example", "--phone", "139 0000")
    assert (code, out) == (0, "updated stu.a\n")
    assert run("users", "update", "stu.a", "--language", "en") == (0, "updated stu.a\n")
    code, out = run("users", "update", "stu.a", "--email", "a.univ.example")
    assert code == 2 and "not an email address" in out and "(field: email)" in out
    code, out = run("users", "update", "nobody", "--name", "x")
    assert code == 2 and "(field: handle)" in out
    code, out = run("users", "update", "stu.a")
    assert code == 2 and "nothing to change" in out
    db = Database(get_settings().effective_database_url)
    with UnitOfWork(db, write=False) as uow:
        person = uow.session.exec(select(Person).where(Person.handle == "stu.a")).one()
    db.dispose()
    assert (person.email, person.phone, person.language) == ("a@univ.example", "139 0000", "en")
    assert run("audit", "verify")[0] == 0


@pytest.mark.parametrize("email", ["late@univ.example", None])
def test_a_subject_given_a_mailbox_receives_the_notice_instead_of_a_dead_letter(
    client: TestClient,
    state: AppState,
    tokens: dict[str, str],
    people: dict[str, Person],
    email: str | None,
) -> None:
    with time_machine.travel(NOW, tick=False), smtp_server() as (controller, mailbox):
        ref = file(state, subject="stu.late")  # a new directory entry, without a mailbox
        if email:
            r = client.patch(
                "/people/stu.late", json={"email": email}, headers=bearer(tokens["inv.wang"])
            )
            assert r.status_code == 200, r.text
        carry_to(state, people, ref, Stage.INVESTIGATION)  # the subject is asked to answer
        run_stage_work(state)
        dispatcher(state, controller.port).tick()
    with UnitOfWork(state.db, write=False) as uow:
        dead = uow.session.exec(
            select(OutboxRow).where(col(OutboxRow.topic) == DELIVERY, OutboxRow.state == "dead")
        ).all()
    if email is None:  # what happened before: nothing reaches the subject
        assert len(dead) == 1 and "no channel reaches" in (dead[0].last_error or "")
        return
    [notice] = mailbox.to(email)
    assert notice["Subject"] == f"【清风】请就 {ref} 进行陈述申辩"
    assert dead == []
