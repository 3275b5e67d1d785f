"""The decision notice (处理决定书): numbered per year in the deciding transaction, stating
what 《普通高等学校学生管理规定》 第五十五条 requires, set in embedded CJK fonts, never
naming the reporter; the subject downloads it through their page, staff through the API
and the console; a decision changed on appeal gets a review decision of its own."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from api.http.app import create_app
from api.http.deps import AppState
from cases import subject_links
from cases.papers.decision_notice import decision_notice, period_end
from cases.people.sessions import set_password
from cases.procedure import commands as c
from cases.procedure.clock import utcnow
from cases.procedure.errors import VersionConflict
from cases.procedure.labels import event_label
from cases.procedure.vocabulary import Stage
from cases.service import file_report
from cases.store.db import UnitOfWork
from cases.store.models import AuditEvent, ConductCase, Person
from cases.store.papers import DecisionNotice
from tests.conftest import BOTH_DATABASES, bearer
from tests.helpers import PATH, act
from tests.test_signin import PASSWORD, sign_in

ARTIFACTS = Path(__file__).parent / "artifacts"
REPORTER = "赵举报人"
FINDINGS = "该同学多次要求新干事替其取快递、占座，对不从者在评优中打压，情节较重"
ALLEGATIONS = "要求新干事替其跑腿，不从者不予评优"
# Monday 28 September 2026, 10:00 in Shanghai: the National Day holidays (1-8 October)
# fall in the appeal window, so its last day is 16 October, not 12 October.
DECIDED = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)
NUMBERS = count(1)  # student numbers


def _file(state: AppState, name: str, now: datetime) -> str:
    report = c.FileReport(
        unit="cs-su", subject_handle=f"2023{next(NUMBERS):06d}", subject_name=name,
        subject_post="宣传部部长", summary="部长要求干事跑腿",
        details=f"我是{REPORTER}，部长多次要求新干事替他取快递。", anonymous=False,
        reporter_name=REPORTER, reporter_contact="13800001111",
    )  # fmt: skip
    return file_report(
        uow=UnitOfWork(state.db), policy=state.policy, report=report, reporter=None,
        receipt_code="ABCD-EFGH-JKMN-PQRS", now=now,
    ).reference  # fmt: skip


def _steps() -> list[tuple[str, c.Command, Stage]]:
    """The helpers' path, with allegations and findings of this test's own."""
    accept = c.Accept(category="formalism", severity="serious", investigators=["inv.wang"],
                      allegations=ALLEGATIONS)  # fmt: skip
    findings = c.SubmitFindings(
        result="substantiated", summary=FINDINGS, recommended_disposition="warning"
    )
    steps = list(PATH)
    steps[0] = ("inv.wang", accept, Stage.INVESTIGATION)
    steps[4] = ("inv.wang", findings, Stage.VERIFICATION)
    return steps


def _to_cosign(state: AppState, people: dict[str, Person], name: str, now: datetime) -> str:
    """A case with its disposition signed off, waiting for the secretary's co-sign."""
    reference = _file(state, name, now)
    for handle, command, _ in _steps()[:-1]:
        act(state, people, reference, handle, command, now=now)
    return reference


def _decided(
    state: AppState, people: dict[str, Person], name: str = "李部长", now: datetime = DECIDED
) -> str:
    reference = _to_cosign(state, people, name, now)
    act(state, people, reference, "sec.li", c.CoSign(), now=now)
    return reference


def _case(state: AppState, reference: str) -> ConductCase:
    with UnitOfWork(state.db, write=False) as uow:
        return uow.session.exec(select(ConductCase).where(ConductCase.reference == reference)).one()


def _notices(state: AppState) -> list[DecisionNotice]:
    with UnitOfWork(state.db, write=False) as uow:
        return list(uow.session.exec(select(DecisionNotice).order_by(col(DecisionNotice.id))))


def _pdf(state: AppState, people: dict[str, Person], reference: str) -> bytes:
    return decision_notice(
        uow=UnitOfWork(state.db), policy=state.policy, reference=reference,
        viewer=people["sec.li"], committee=state.settings.committee_name,
    ).pdf  # fmt: skip


def _text(pdf: bytes, tmp_path: Path) -> str:
    """The PDF's text (pdftotext), all white space removed so wrapped lines join."""
    path = tmp_path / "notice.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
    return re.sub(r"\s+", "", out.stdout.decode("utf-8"))


def test_the_notice_states_what_the_rules_require(
    state: AppState, people: dict[str, Person], tmp_path: Path
) -> None:
    reference = _decided(state, people)
    (notice,) = _notices(state)
    assert notice.number == "清风决〔2026〕1号" and (notice.year, notice.seq) == (2026, 1)
    case = _case(state, reference)
    subject = _subject(state, case)
    pdf = _pdf(state, people, reference)
    text = _text(pdf, tmp_path)
    assert pdf == _pdf(state, people, reference)  # the same case gives the same paper
    required = [
        state.settings.committee_name, "处理决定书", "清风决〔2026〕1号",
        "姓名", "李部长", "学号", subject.handle, "计算机学院学生会", "宣传部部长",  # the student
        ALLEGATIONS, FINDINGS, "证据", re.sub(r"\s+", "", "谈话笔录 1 份"),  # facts, evidence
        "警告", "依据《学生会工作人员管理办法》",  # kind and basis
        "自2026年9月28日起至2027年3月27日止",  # its period, from the day it takes effect
        "10个工作日内", "2026年10月16日", "校团委学生申诉处理工作组",  # the appeal
        "指导教师：cs-su指导教师", "团委书记：李书记", "2026年9月28日",  # signers, date
    ]  # fmt: skip
    missing = [part for part in required if part not in text]
    assert not missing, missing
    assert REPORTER not in text and "13800001111" not in text and "证人甲" not in text


def _subject(state: AppState, case: ConductCase) -> Person:
    with UnitOfWork(state.db, write=False) as uow:
        person = uow.session.get(Person, case.subject_id)
        assert person is not None
        return person


def test_the_notice_is_audited_and_on_the_timeline(
    state: AppState, people: dict[str, Person], client: TestClient, tokens: dict[str, str]
) -> None:
    reference = _decided(state, people)
    case = _case(state, reference)
    with UnitOfWork(state.db, write=False) as uow:
        actions = list(
            uow.session.exec(
                select(AuditEvent.action, AuditEvent.data)
                .where(AuditEvent.case_id == case.id)
                .order_by(col(AuditEvent.seq))
            )
        )
    issued = [json.loads(data) for action, data in actions if action == "decision_notice.issued"]
    assert issued == [{"number": "清风决〔2026〕1号", "kind": "decision", "disposition": "warning"}]
    assert [a for a, _ in actions][-2:] == ["decision_notice.issued", "case.co_sign"]
    detail = client.get(f"/cases/{reference}", headers=bearer(tokens["sec.li"])).json()
    (entry,) = [e for e in detail["timeline"] if e["action"] == "decision_notice.issued"]
    assert entry["actor"] and entry["data"]["number"] == "清风决〔2026〕1号"
    assert event_label(entry["action"], "zh-CN", state.policy) == "印发处理决定书"


def test_fonts_are_embedded_cjk(state: AppState, people: dict[str, Person], tmp_path: Path) -> None:
    path = tmp_path / "notice.pdf"
    path.write_bytes(_pdf(state, people, _decided(state, people)))
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True)
    rows = fonts.stdout.splitlines()[2:]
    assert rows and all("CJK" in row for row in rows), fonts.stdout
    assert all(re.search(r"\byes\s+yes\s+yes\b", row) for row in rows), fonts.stdout  # emb sub uni


def test_numbers_run_on_per_year(state: AppState, people: dict[str, Person]) -> None:
    first, second = _decided(state, people, "甲部长"), _decided(state, people, "乙部长")
    next_year = _decided(state, people, "丙部长", now=datetime(2027, 1, 5, 2, tzinfo=UTC))
    numbers = {n.case_id: n.number for n in _notices(state)}
    assert [numbers[_case(state, ref).id or 0] for ref in (first, second, next_year)] == [
        "清风决〔2026〕1号",
        "清风决〔2026〕2号",
        "清风决〔2027〕1号",
    ]


def test_a_refused_action_issues_nothing_and_leaves_no_gap(
    state: AppState, people: dict[str, Person]
) -> None:
    reference = _to_cosign(state, people, "甲部长", DECIDED)
    stale = _case(state, reference).version - 1
    with pytest.raises(VersionConflict):  # the co-sign rolled back
        act(state, people, reference, "sec.li", c.CoSign(), now=DECIDED, expected_version=stale)
    assert _notices(state) == []
    act(state, people, reference, "sec.li", c.CoSign(), now=DECIDED)
    assert [n.number for n in _notices(state)] == ["清风决〔2026〕1号"]


@BOTH_DATABASES
def test_concurrent_decisions_get_distinct_consecutive_numbers(
    state: AppState, people: dict[str, Person]
) -> None:
    references = [_to_cosign(state, people, f"部长{i}", DECIDED) for i in range(4)]
    barrier = threading.Barrier(len(references))

    def co_sign(reference: str) -> None:
        barrier.wait()
        act(state, people, reference, "sec.li", c.CoSign(), now=DECIDED)

    with ThreadPoolExecutor(len(references)) as pool:
        list(pool.map(co_sign, references))
    notices = _notices(state)
    assert sorted(n.seq for n in notices) == [1, 2, 3, 4]
    assert len({n.case_id for n in notices}) == 4


def test_a_decision_changed_on_appeal_gets_a_review_decision(
    state: AppState, people: dict[str, Person], tmp_path: Path
) -> None:
    reference = _decided(state, people)
    subject = _subject(state, _case(state, reference))
    with_subject = {**people, subject.handle: subject}
    act(state, with_subject, reference, subject.handle, c.Appeal(grounds="处理过重"), now=DECIDED)
    act(state, people, reference, "sec.li",
        c.Assign(capacity="appeal_reviewer", person="rev.zhou"), now=DECIDED)  # fmt: skip
    change = c.DecideAppeal(outcome="change", disposition="criticism", reasons=["情节较轻"])
    act(state, people, reference, "rev.zhou", change, now=DECIDED)
    first, review = _notices(state)
    assert (review.number, review.kind, review.supersedes_id) == (
        "清风决〔2026〕2号", "review", first.id,
    )  # fmt: skip
    text = _text(_pdf(state, people, reference), tmp_path)
    parts = (
        "申诉复查决定书",
        "清风决〔2026〕2号",
        "清风决〔2026〕1号",
        "批评教育",
        "复查人：周复核",
    )
    assert [part for part in parts if part not in text] == []
    assert "本处理无期限" in text  # criticism has no period


def test_period_end() -> None:
    assert period_end(datetime(2026, 9, 28).date(), 6).isoformat() == "2027-03-27"
    assert period_end(datetime(2026, 8, 31).date(), 6).isoformat() == "2027-02-27"
    assert period_end(datetime(2026, 1, 1).date(), 12).isoformat() == "2026-12-31"


def _open(client: TestClient, state: AppState, case: ConductCase) -> None:
    token = subject_links.issue_link(
        uow=UnitOfWork(state.db), policy=state.policy, case_id=case.id or 0,
        person_id=case.subject_id, now=utcnow(),
    )  # fmt: skip
    assert client.get(f"/s/{token}", follow_redirects=False).status_code == 303


def test_the_subject_downloads_it_from_their_page_and_no_one_else_does(
    state: AppState, people: dict[str, Person], client: TestClient, tmp_path: Path
) -> None:
    decided = _case(state, _decided(state, people))
    _open(client, state, decided)
    shown = client.get("/subject")
    assert "清风决〔2026〕1号" in shown.text and 'href="/subject/decision-notice.pdf"' in shown.text
    got = client.get("/subject/decision-notice.pdf")
    assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
    assert got.headers["cache-control"] == "no-store"
    assert "清风决〔2026〕1号" in _text(got.content, tmp_path)

    other = TestClient(client.app)  # another subject, whose case is not decided
    undecided = _case(state, _to_cosign(state, people, "乙部长", DECIDED))
    _open(other, state, undecided)
    refused = other.get("/subject/decision-notice.pdf")
    assert refused.status_code == 404 and "清风决" not in refused.text
    assert "decision-notice.pdf" not in other.get("/subject").text
    assert TestClient(client.app).get("/subject/decision-notice.pdf").status_code == 404


def test_staff_get_it_within_their_scope(
    state: AppState, people: dict[str, Person], client: TestClient, tokens: dict[str, str]
) -> None:
    decided = _decided(state, people)
    undecided = _to_cosign(state, people, "乙部长", DECIDED)
    got = client.get(f"/cases/{decided}/decision-notice", headers=bearer(tokens["sec.li"]))
    assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
    assert got.content.startswith(b"%PDF")
    out = client.get(f"/cases/{decided}/decision-notice", headers=bearer(tokens["adv.law-su"]))
    assert out.status_code == 404
    none = client.get(f"/cases/{undecided}/decision-notice", headers=bearer(tokens["sec.li"]))
    assert none.status_code == 409
    assert none.headers["content-type"] == "application/problem+json"
    assert none.json()["field"] == "reference"


def test_page_one_looks_like_a_formal_notice(
    state: AppState, people: dict[str, Person], tmp_path: Path
) -> None:
    path = tmp_path / "notice.pdf"
    path.write_bytes(_pdf(state, people, _decided(state, people)))
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "decision-notice"
    page_one = ["-f", "1", "-l", "1", "-singlefile"]
    subprocess.run(["pdftoppm", "-png", "-r", "70", *page_one, str(path), str(target)], check=True)
    assert (ARTIFACTS / "decision-notice.png").stat().st_size > 10_000


def test_the_console_case_page_links_it_within_scope(
    state: AppState, people: dict[str, Person], tokens: dict[str, str]
) -> None:
    for handle in ("sec.li", "adv.law-su"):
        set_password(uow=UnitOfWork(state.db), handle=handle, password=PASSWORD)
    decided, undecided = _decided(state, people), _to_cosign(state, people, "乙部长", DECIDED)
    with TestClient(create_app(state), client=("192.0.2.8", 50000)) as console:
        sign_in(console, "sec.li")
        link = f'href="/console/cases/{decided}/decision-notice"'
        assert link in console.get(f"/console/cases/{decided}").text
        assert "decision-notice" not in console.get(f"/console/cases/{undecided}").text
        got = console.get(f"/console/cases/{decided}/decision-notice")
        assert got.status_code == 200 and got.content.startswith(b"%PDF")
        assert got.headers["cache-control"] == "no-store"
        assert console.get(f"/console/cases/{undecided}/decision-notice").status_code == 404
        console.cookies.clear()
        sign_in(console, "adv.law-su")  # an advisor of another unit: out of scope
        assert console.get(f"/console/cases/{decided}/decision-notice").status_code == 404
