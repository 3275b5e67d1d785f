"""The authorisation matrix's world: the demo organisation plus a federation outside the
league, and for each stage three cases (own, in scope, out of scope) carried through the
service, a reporter's code session and a subject's link session on each own case, and a
client per staff role signed in to the console with a bearer token beside it."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from api.http.console.session import SESSION_COOKIE
from api.http.deps import AppState
from api.http.pages.render import FORM_COOKIE
from cases import subject_links
from cases.demo import seed_organisation
from cases.evidence_files import evidence_store
from cases.people.directory import UnitSpec, add_person, import_units
from cases.people.secrets import receipt_code
from cases.people.sessions import set_password
from cases.procedure import commands as c
from cases.procedure.clock import utcnow
from cases.procedure.vocabulary import Role, Stage
from cases.service import apply_action, file_report
from cases.store.db import UnitOfWork
from cases.store.models import ConductCase, Evidence, Person
from tests.authz_table import Relation, Who

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"0" * 2000
PASSWORD = "correct horse battery"
FORM = "matrix-form-token-0123456789"
# The people who play each staff role (the one who asks), and who else works the cases.
PLAYER = {
    Who.INVESTIGATOR: "inv.wang",
    Who.VERIFIER: "ver.liu",
    Who.ADVISOR: "adv.cs-su",
    Who.SECRETARY: "sec.li",
    Who.ADMIN: "admin",
}
OUTSIDE_UNITS = [
    UnitSpec("xy", "校外联合会", "Another federation"),
    UnitSpec("xy-su", "某校学生会", "Another students' union", "xy"),
]


@dataclass(frozen=True)
class Team:
    """Who works a case: its unit, investigator, verifier, advisor and secretary."""

    unit: str
    investigator: str
    verifier: str
    advisor: str
    secretary: str
    reviewer: str


TEAMS = {
    # Own: the players are assigned. In scope: the same unit, others assigned (the
    # secretary's scope is the league: "own" and "in scope" are the same to her).
    Relation.OWN: Team("cs-su", "inv.wang", "ver.liu", "adv.cs-su", "sec.li", "rev.qian"),
    Relation.IN_SCOPE: Team("cs-su", "inv.zhao", "rev.zhou", "adv2.cs-su", "sec.li", "rev.qian"),
    Relation.OUT_OF_SCOPE: Team("xy-su", "x.inv", "x.ver", "adv.xy-su", "x.sec", "x.rev"),
}
STAGES = (
    Stage.INTAKE,
    Stage.INVESTIGATION,
    Stage.VERIFICATION,
    Stage.DISPOSITION,
    Stage.APPEAL_WINDOW,
    Stage.APPEAL_REVIEW,
    Stage.CLOSED,
)


def _steps(team: Team, store: Path) -> list[tuple[str, c.Command, Stage]]:
    evidence = c.RecordEvidence(description="照片", filename="record.pdf").with_file(
        c.Attachment(io.BytesIO(PDF), store)
    )
    return [
        (
            team.investigator,
            c.Accept(category="formalism", severity="serious", investigators=[team.investigator]),
            Stage.INVESTIGATION,
        ),
        (team.secretary, c.Assign(capacity="verifier", person=team.verifier), Stage.INVESTIGATION),
        (team.secretary, c.Assign(capacity="advisor", person=team.advisor), Stage.INVESTIGATION),
        (team.investigator, evidence, Stage.INVESTIGATION),
        (team.investigator, c.RecordStatement(statement="陈述"), Stage.INVESTIGATION),
        (
            team.investigator,
            c.SubmitFindings(
                result="substantiated", summary="属实", recommended_disposition="warning"
            ),
            Stage.VERIFICATION,
        ),
        (team.verifier, c.Confirm(), Stage.DISPOSITION),
        (team.investigator, c.Propose(disposition="warning", rationale="较重"), Stage.DISPOSITION),
        (team.advisor, c.SignOff(), Stage.DISPOSITION),
        (team.secretary, c.CoSign(), Stage.APPEAL_WINDOW),
        ("subject", c.Appeal(grounds="不服"), Stage.APPEAL_REVIEW),
        (
            team.secretary,
            c.Assign(capacity="appeal_reviewer", person=team.reviewer),
            Stage.APPEAL_REVIEW,
        ),
        (
            team.reviewer,
            c.DecideAppeal(outcome="uphold", reasons=["认定无误"]),
            Stage.CLOSED,
        ),
    ]


@dataclass
class Case:
    reference: str
    code: str
    subject_id: int
    evidence_id: int = 0
    link: str = ""
    link_id: int = 0


@dataclass
class World:
    state: AppState
    app: FastAPI
    cases: dict[tuple[Stage, Relation], Case]
    tokens: dict[str, str]
    clients: dict[tuple[Who, Stage], TestClient] = field(default_factory=dict)
    snapshot: Path = Path()
    cookies: dict[tuple[Who, Stage], dict[str, str]] = field(default_factory=dict)
    # Facts read once: every request finds the database as it was built (see restore).
    memo: dict[tuple[object, ...], Any] = field(default_factory=dict)

    def once(self, key: tuple[object, ...], read: Callable[[], Any]) -> Any:
        if key not in self.memo:
            self.memo[key] = read()
        return self.memo[key]

    def case(self, stage: Stage, relation: Relation) -> Case:
        return self.cases[(stage, relation)]

    def client(self, who: Who, stage: Stage) -> TestClient:
        """The role's client; a reporter's and a subject's hold the session of their own
        case at ``stage``."""
        if who in (Who.REPORTER, Who.SUBJECT):
            return self.clients[(who, stage)]
        return self.clients[(who, Stage.INTAKE)]

    def keep_sessions(self) -> None:
        """Give every client back its cookies (a sign-out or a refusal may drop them)."""
        for key, client in self.clients.items():
            client.cookies.clear()
            for name, value in self.cookies[key].items():
                client.cookies.set(name, value)

    def restore(self) -> None:
        """Put the database back as it was once the world was built (after an action)."""
        self.state.db.dispose()
        db_file = Path(self.state.db.url.removeprefix("sqlite:///"))
        for extra in ("-wal", "-shm"):
            Path(f"{db_file}{extra}").unlink(missing_ok=True)
        shutil.copyfile(self.snapshot, db_file)


def _organisation(state: AppState) -> dict[str, str]:
    tokens = seed_organisation(UnitOfWork(state.db))
    import_units(uow=UnitOfWork(state.db), specs=OUTSIDE_UNITS)
    extra = [
        ("adv2.cs-su", "cs-su", Role.ADVISOR, "cs-su"),
        ("x.inv", "xy", Role.INVESTIGATOR, "xy"),
        ("x.ver", "xy", Role.VERIFIER, "xy"),
        ("x.rev", "xy", Role.VERIFIER, "xy"),
        ("rev.qian", "league", Role.VERIFIER, "league"),
        ("x.sec", "xy", Role.SECRETARY, "xy"),
        ("adv.xy-su", "xy-su", Role.ADVISOR, "xy-su"),
    ]
    for handle, unit, role, where in extra:
        _, token = add_person(
            uow=UnitOfWork(state.db),
            handle=handle,
            name=handle,
            unit=unit,
            roles=[(role, where)],
            with_token=True,
        )
        tokens[handle] = token or ""
    for handle in PLAYER.values():
        set_password(uow=UnitOfWork(state.db), handle=handle, password=PASSWORD)
    return tokens


def _people(state: AppState) -> dict[str, Person]:
    with UnitOfWork(state.db, write=False) as uow:
        return {p.handle: p for p in uow.session.exec(select(Person))}


def _case_row(state: AppState, reference: str) -> ConductCase:
    with UnitOfWork(state.db, write=False) as uow:
        return uow.session.exec(select(ConductCase).where(ConductCase.reference == reference)).one()


# How many of _steps each stage's cases take: investigation stops before the statement;
# in appeal review an appeal reviewer (rev.qian, no player) is assigned.
STEPS_TO = {
    Stage.INTAKE: 0,
    Stage.INVESTIGATION: 4,
    Stage.VERIFICATION: 6,
    Stage.DISPOSITION: 7,
    Stage.APPEAL_WINDOW: 10,
    Stage.APPEAL_REVIEW: 12,
    Stage.CLOSED: 13,
}


def _carry(state: AppState, reference: str, team: Team, stage: Stage) -> None:
    start = utcnow() - timedelta(days=1)
    for handle, command, _ in _steps(team, evidence_store(state.settings.data_dir))[
        : STEPS_TO[stage]
    ]:
        people = _people(state)
        subject_id = _case_row(state, reference).subject_id
        actor = next(p for p in people.values() if p.id == subject_id)
        apply_action(
            uow=UnitOfWork(state.db),
            policy=state.policy,
            reference=reference,
            actor=actor if handle == "subject" else people[handle],
            command=command,
            now=start,
        )
    assert _case_row(state, reference).stage == stage.value


def _file(state: AppState, team: Team, number: int) -> Case:
    code = receipt_code()
    reference = file_report(
        uow=UnitOfWork(state.db),
        policy=state.policy,
        report=c.FileReport(
            unit=team.unit,
            subject_handle=f"stu.matrix.{number:03d}",
            subject_name="张同学",
            summary="反映问题",
            details="详细情况",
            anonymous=True,
        ),
        reporter=None,
        receipt_code=code,
        secret=state.secret,
    ).reference
    return Case(reference=reference, code=code, subject_id=_case_row(state, reference).subject_id)


def _evidence_of(state: AppState, case: Case) -> int:
    row = _case_row(state, case.reference)
    with UnitOfWork(state.db, write=False) as uow:
        item = uow.session.exec(select(Evidence).where(Evidence.case_id == row.id)).first()
        return item.id if item is not None and item.id is not None else 1


def build(state: AppState, app: FastAPI, snapshot: Path) -> Iterator[World]:
    tokens = _organisation(state)
    cases: dict[tuple[Stage, Relation], Case] = {}
    number = 0
    for stage in STAGES:
        for relation, team in TEAMS.items():
            number += 1
            case = _file(state, team, number)
            _carry(state, case.reference, team, stage)
            case.evidence_id = _evidence_of(state, case)
            row = _case_row(state, case.reference)
            case.link_id = subject_links.hand_over(
                uow=UnitOfWork(state.db),
                policy=state.policy,
                reference=case.reference,
                staff=_people(state)[team.secretary],
                now=utcnow(),
            ).link_id
            case.link = subject_links.issue_link(
                uow=UnitOfWork(state.db),
                policy=state.policy,
                case_id=row.id or 0,
                person_id=row.subject_id or 0,
                now=utcnow(),
            )
            cases[(stage, relation)] = case
    world = World(state=state, app=app, cases=cases, tokens=tokens, snapshot=snapshot)
    opened: list[TestClient] = []
    for index, who in enumerate(Who):
        for stage in STAGES:
            if who not in (Who.REPORTER, Who.SUBJECT) and stage is not Stage.INTAKE:
                continue
            client = TestClient(app, client=(f"192.0.2.{index * 10 + STAGES.index(stage)}", 5000))
            client.__enter__()
            opened.append(client)
            client.cookies.set(FORM_COOKIE, FORM)
            _sign_in(world, client, who, stage)
            world.clients[(who, stage)] = client
            world.cookies[(who, stage)] = dict(client.cookies.items())
    state.db.dispose()
    shutil.copyfile(Path(state.db.url.removeprefix("sqlite:///")), snapshot)
    yield world
    for client in opened:
        client.__exit__(None, None, None)


def _sign_in(world: World, client: TestClient, who: Who, stage: Stage) -> None:
    own = world.case(stage, Relation.OWN)
    if who is Who.REPORTER:
        answer = client.post(
            "/status",
            data={"receipt_code": own.code, "form_token": FORM},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
    elif who is Who.SUBJECT:
        answer = client.get(f"/s/{own.link}", follow_redirects=False)
        assert answer.status_code == 303, answer.text
    elif who is not Who.ANONYMOUS:
        handle = PLAYER[who]
        answer = client.post(
            "/signin",
            data={"handle": handle, "password": PASSWORD, "next": "", "form_token": FORM},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        assert client.cookies.get(SESSION_COOKIE)
        client.headers["Authorization"] = f"Bearer {world.tokens[handle]}"
