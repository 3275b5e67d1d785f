"""The authorisation matrix (issue 18): every route of the app × every role × (own case,
in scope, out of scope), asked over HTTP and held to tests/authz_table.py. A route added
without rows fails test_every_route_has_rows. Actions change nothing for the next cell:
the database is put back after each request that is not a read."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import select
from starlette.routing import BaseRoute, Mount

from api.http.app import create_app
from api.http.deps import AppState
from cases.people.secrets import receipt_code
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import Stage
from cases.store.db import Database, UnitOfWork
from cases.store.models import ApiToken, ConductCase, OutboxRow, Person
from config.settings import Settings
from tests.authz_table import (
    ANY,
    OK,
    PASS,
    SIGNIN,
    TABLE,
    WRONG_CODE,
    Outcome,
    Relation,
    Row,
    Who,
)
from tests.authz_world import FORM, PDF, PLAYER, World, build

SKIPPED_MOUNTS = ("/static/",)  # static files: no authorisation to check
HELD_ON = "2026-11-20"
INTERVIEW = {"interviewee": "证人甲", "summary": "说明", "held_on": HELD_ON}
BODIES: dict[str, dict[str, Any]] = {
    "accept": {"category": "formalism", "severity": "serious", "investigators": ["inv.wang"]},
    "decline": {"reason": "insufficient_information", "explanation": "信息不足"},
    "assign": {"capacity": "investigator", "person": "inv.zhao"},
    "record-interview": INTERVIEW,
    "record-statement": {"statement": "陈述"},
    "waive-statement": {"note": "未作陈述"},
    "submit-findings": {
        "result": "substantiated",
        "summary": "属实",
        "recommended_disposition": "warning",
    },
    "confirm": {},
    "return-findings": {"reasons": ["证据不足"]},
    "propose": {"disposition": "warning", "rationale": "较重"},
    "sign-off": {},
    "refuse": {"comments": "不同意"},
    "co-sign": {},
    "appeal": {"grounds": "不服"},
    "decide-appeal": {"outcome": "uphold", "reasons": ["认定无误"]},
    "close": {},
    "grant-extension": {},
    "refuse-extension": {"reason": "不予延期"},
}


# --- the app's routes -------------------------------------------------------------


def _walk(routes: list[BaseRoute]) -> Iterator[tuple[str, str]]:
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI's included router (its prefix is on its routes)
            prefix = getattr(getattr(route, "include_context", None), "prefix", "") or ""
            yield from ((m, prefix + p) for m, p in _walk(included.routes))
        elif isinstance(route, Mount):
            assert route.path.startswith(SKIPPED_MOUNTS), f"a mount to check: {route.path}"
        else:
            for method in getattr(route, "methods", None) or ():
                if method != "HEAD":
                    yield method, str(getattr(route, "path", ""))


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    return set(_walk(app.router.routes))


# --- the world, once per module ---------------------------------------------------


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, policy: Policy, template_db: Path
) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("matrix")
    db_file = folder / "qingfeng.db"
    shutil.copyfile(template_db, db_file)
    settings = Settings(data_dir=folder, database_url=f"sqlite:///{db_file}")
    db = Database(settings.effective_database_url, pool_size=8)
    state = AppState(settings=settings, policy=policy, db=db, secret=b"test-secret")
    yield from build(state, create_app(state), folder / "snapshot.db")
    db.dispose()


def _version(world: World, reference: str) -> int:
    def read() -> int:
        with UnitOfWork(world.state.db, write=False) as uow:
            query = select(ConductCase).where(ConductCase.reference == reference)
            return uow.session.exec(query).one().version

    return int(world.once(("version", reference), read))


def _token_of(world: World, handle: str) -> str:
    """The public id of ``handle``'s first token."""

    def read() -> str:
        with UnitOfWork(world.state.db, write=False) as uow:
            person = uow.session.exec(select(Person).where(Person.handle == handle)).one()
            tokens = uow.session.exec(select(ApiToken).where(ApiToken.person_id == person.id))
            return tokens.first().public_id  # type: ignore[union-attr]

    return str(world.once(("token", handle), read))


def _outbox_id(world: World) -> int:
    """A notification in the outbox (not dead: a retry is refused with 409)."""

    def read() -> int:
        with UnitOfWork(world.state.db, write=False) as uow:
            query = select(OutboxRow).where(OutboxRow.topic == "notification")
            return uow.session.exec(query).first().id or 0  # type: ignore[union-attr]

    return int(world.once(("outbox",), read))


def _subject_handle(world: World, subject_id: int) -> str:
    def read() -> str:
        with UnitOfWork(world.state.db, write=False) as uow:
            person = uow.session.get(Person, subject_id)
            assert person is not None
            return person.handle

    return str(world.once(("subject", subject_id), read))


def _due_on() -> str:
    """A Tuesday three weeks on: a working day within any stage's horizon."""
    day = date.today() + timedelta(days=21)
    return (day + timedelta(days=(1 - day.weekday()) % 7)).isoformat()


def url_of(world: World, path: str, stage: Stage, relation: Relation) -> str:
    case = world.case(stage, relation)
    values = {
        "reference": case.reference,
        "evidence_id": case.evidence_id,
        "notice": case.link_id,
        "handle": _subject_handle(world, case.subject_id)
        if path == "/people/{handle}"
        else "inv.zhao",
        "token_id": _token_of(world, "x.inv"),
        "message_id": _outbox_id(world),
        "token": "no-such-link-" + "x" * 30,
        "action": "grant_extension" if path.startswith("/console/board") else "sign_off",
        "path": "record-interview",
    }
    return path.format(**values)


# Posted to under a case, but not procedure actions (tests/test_names.py NOT_ACTIONS).
CASE_RESOURCES = {"/cases/{reference}/messages", "/cases/{reference}/subject-notice"}


def request_of(
    world: World, method: str, path: str, who: Who, stage: Stage, relation: Relation
) -> dict[str, Any]:
    """A minimally valid request: authorisation, not validation, decides."""
    case = world.case(stage, relation)
    own = world.case(stage, Relation.OWN)
    code = own.code if who is Who.REPORTER else receipt_code()
    version = str(_version(world, case.reference))
    form = {"form_token": FORM, "version": version}
    pdf = {"file": ("item.pdf", PDF, "application/pdf")}
    if method == "GET":
        return {}
    action = path.rsplit("/", 1)[-1]
    if path.startswith("/cases/{reference}/") and path not in CASE_RESOURCES:
        headers = {"If-Match": f'"{version}"'}
        if action == "record-evidence":
            return {"headers": headers, "data": {"description": "照片"}, "files": pdf}
        if action == "request-extension":
            return {"headers": headers, "json": {"reason": "需要时间", "due_on": _due_on()}}
        return {"headers": headers, "json": BODIES[action]}
    return _other_bodies(world, who, code, form).get(path, {"data": form})


def _other_bodies(
    world: World, who: Who, code: str, form: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """The bodies of the POSTs that are not case actions (by path)."""
    pdf = {"file": ("item.pdf", PDF, "application/pdf")}
    return {
        "/cases/{reference}/messages": {"json": {"body": "您好"}},
        "/cases/{reference}/subject-notice": {},  # no body: a new notice
        "/reports": {
            "json": {
                "unit": "cs-su",
                "subject_name": "张同学",
                "summary": "反映问题",
                "details": "详细情况",
            }
        },
        "/report": {
            "data": {**form, "unit": "cs-su", "subject_name": "张同学", "summary": "反映问题"}
        },
        "/reports/status": {"json": {"receipt_code": code}},
        "/reports/messages": {"json": {"receipt_code": code, "body": "补充"}},
        "/reports/evidence": {"data": {"receipt_code": code, "description": "照片"}, "files": pdf},
        "/reports/survey": {"json": {"receipt_code": code, "score": 4}},
        "/status": {"data": {**form, "receipt_code": code}},
        "/status/case/message": {"data": {**form, "body": "补充"}},
        "/status/case/survey": {"data": {**form, "score": "4"}},
        "/status/case/evidence": {"data": {**form, "description": "照片"}, "files": pdf},
        "/s": {"data": {**form, "code": "ABCD-EFGH"}},
        "/signin": {"data": {**form, "handle": "inv.zhao", "password": "wrong password"}},
        "/subject/statement": {"data": {**form, "statement": "陈述"}},
        "/subject/appeal": {"data": {**form, "grounds": "不服"}},
        "/admin/people/{handle}/tokens": {"json": {"name": "laptop"}},
        "/people/{handle}": {"json": {"phone": "13800000000"}},
        "/outbox/{message_id}/retry": {},
        "/conduct-records": {"json": {"person": "stu.matrix.001", "purpose": "干部选拔"}},
        "/account/tokens": {"data": {**form, "name": "laptop"}},
        "/account/tokens/revoke": {
            "data": {**form, "token": _token_of(world, PLAYER.get(who, "x.inv"))}
        },
        "/console/admin/tokens/revoke": {"data": {**form, "token": _token_of(world, "x.inv")}},
        "/console/ops/outbox/retry": {"data": {**form, "message": str(_outbox_id(world))}},
        "/console/cases/{reference}/messages": {"data": {**form, "body": "您好"}},
        "/console/cases/{reference}/{path}": {"data": {**form, **INTERVIEW}},
        "/console/conduct-record": {
            "data": {**form, "person": "stu.matrix.001", "purpose": "干部选拔"}
        },
    }


# --- the outcomes -----------------------------------------------------------------


def _redirect_to(answer: httpx.Response, path: str) -> bool:
    where = answer.headers.get("location", "").split("?")[0].split("#")[0]
    return answer.status_code in (302, 303, 307) and where == path


def holds(outcome: Outcome, answer: httpx.Response) -> bool:
    status = answer.status_code
    sent_away = any(_redirect_to(answer, p) for p in ("/signin", "/status", "/s"))
    if isinstance(outcome, int):
        return status == outcome
    return {
        OK: 200 <= status < 400 and not sent_away,
        PASS: status < 500 and status not in (401, 403, 404, 429) and not sent_away,
        SIGNIN: _redirect_to(answer, "/signin"),
        WRONG_CODE: status in (404, 429),
        ANY: status < 500,
    }[outcome]


def cells_of(row: Row) -> Iterator[tuple[Who, Relation | None]]:
    for who in Who:
        if isinstance(row.cells[who], tuple):
            yield from ((who, relation) for relation in Relation)
        else:
            yield who, None


def ask(world: World, method: str, path: str, who: Who, relation: Relation | None) -> Any:
    row = TABLE[(method, path)]
    on = relation or Relation.OWN
    client = world.client(who, row.stage)
    sent = request_of(world, method, path, who, row.stage, on)
    url = url_of(world, path, row.stage, on)
    try:
        return client.request(method, url, follow_redirects=False, **sent)
    finally:
        world.keep_sessions()
        if method != "GET":
            world.restore()


# --- the tests --------------------------------------------------------------------


def test_every_route_has_rows(world: World) -> None:
    """The table covers the app's routes exactly: a new endpoint without rows fails here."""
    routes = app_routes(world.app)
    assert len(routes) > 100
    without_rows = sorted(routes - TABLE.keys())
    assert not without_rows, f"routes without rows in tests/authz_table.py: {without_rows}"
    gone = sorted(TABLE.keys() - routes)
    assert not gone, f"rows for routes the app no longer has: {gone}"


def test_a_route_without_rows_is_named() -> None:
    """The check above names a new endpoint (an app with one more route)."""
    app = create_app(_bare_state())

    @app.get("/cases/{reference}/something-new")
    def something_new(reference: str) -> dict[str, str]:
        return {"reference": reference}

    assert sorted(app_routes(app) - TABLE.keys()) == [("GET", "/cases/{reference}/something-new")]


def _bare_state() -> AppState:
    from cases.files import load_policy
    from config.settings import DEFAULT_POLICY_FILE

    settings = Settings(data_dir=Path("/tmp/qingfeng-tests-unused"))
    return AppState(
        settings=settings,
        policy=load_policy(DEFAULT_POLICY_FILE),
        db=Database("sqlite://"),
        secret=b"s",
    )


def _params() -> list[Any]:
    marks: dict[tuple[str, str], list[pytest.MarkDecorator]] = {}
    for key, row in TABLE.items():
        if row.defect:
            marks[key] = [pytest.mark.xfail(reason=row.defect, strict=True)]
    return [
        pytest.param(method, path, id=f"{method} {path}", marks=marks.get((method, path), []))
        for method, path in TABLE
    ]


# Every cell over HTTP takes minutes (the papers are real PDFs): its own CI lane. The two
# tests above, that every route has rows, stay in `make test`.
@pytest.mark.lane
@pytest.mark.parametrize(("method", "path"), _params())
def test_the_matrix(world: World, method: str, path: str) -> None:
    row = TABLE[(method, path)]
    wrong = []
    for who, relation in cells_of(row):
        answer = ask(world, method, path, who, relation)
        expected = row.outcome(who, relation)
        if not holds(expected, answer):
            where = f" {relation}" if relation else ""
            location = answer.headers.get("location", "")
            wrong.append(
                f"{who}{where}: expected {expected}, got {answer.status_code}"
                + (f" → {location}" if location else "")
                + f" {answer.text[:160]!r}"
            )
    assert not wrong, f"{method} {path} ({row.stage}):\n" + "\n".join(wrong)
