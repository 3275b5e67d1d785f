"""The decision notice (处理决定书) and the review decision (申诉复查决定书) as PDF papers.

What they state follows 《普通高等学校学生管理规定》 第五十五条: the student's details, the
facts and the evidence, the kind of disposition, its basis and its period, the way and
time limit to appeal, and what else is needed (the number, the signers, the date). Every
word comes from the case's recorded rows and the notice's own row, so the same notice
reads the same whenever it is printed. The reporter is never named, nor any witness.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from cases.audit import append_event, case_chain
from cases.papers.numbering import current_notice
from cases.papers.pdf import Paper
from cases.people.access import case_for
from cases.procedure.clock import utcnow
from cases.procedure.errors import NotNow
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import StatementState
from cases.store.db import UnitOfWork
from cases.store.models import ConductCase, Evidence, Interview, Person, Unit, pk
from cases.store.papers import DecisionNotice, NoticeKind
from cases.subject_view import REPORTER_ITEM

DOWNLOADED_EVENT = "decision_notice.downloaded"
RED = (190, 20, 20)
# The handle filing gives a subject not in the directory (cases/service.py): no number.
UNREGISTERED = "reported-"
RESULTS = {
    "substantiated": "反映问题属实",
    "partly_substantiated": "反映问题部分属实",
    "unsubstantiated": "反映问题不属实",
}


@dataclass(frozen=True)
class NoticeFacts:
    """Everything a notice states, read from the recorded rows."""

    committee: str
    kind: NoticeKind
    number: str
    reference: str
    name: str
    student_number: str
    unit: str
    post: str | None
    allegations: str | None
    findings_result: str | None
    findings: str | None
    evidence: list[str]
    statement_state: str
    disposition: str
    basis: str
    period_months: int | None
    effective_on: date
    appeal_days: int
    appeal_ends_on: date | None
    appeal_body: str
    signers: list[tuple[str, str]]  # (capacity in words, name as recorded)
    replaces: str | None  # a review decision: the number of the notice it changes


@dataclass(frozen=True)
class NoticePaper:
    number: str
    filename: str
    pdf: bytes


def day_words(day: date) -> str:
    """A date as a formal paper writes it: 2026年12月1日."""
    return f"{day.year}年{day.month}月{day.day}日"


def period_end(start: date, months: int) -> date:
    """The last day of a period of ``months`` that begins on ``start`` (自…起至…止)."""
    month0 = start.month - 1 + months
    year, month = start.year + month0 // 12, month0 % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day) - timedelta(days=1)


def _name(session: Session, person_id: int | None) -> str | None:
    person = session.get(Person, person_id) if person_id is not None else None
    return person.name if person else None


def _evidence(session: Session, case: ConductCase) -> list[str]:
    """The evidence relied on, as the subject's page lists it: a reporter's own item by a
    neutral description, interviews by count (no witness is named), the statement."""
    items = session.exec(
        select(Evidence).where(Evidence.case_id == case.id).order_by(col(Evidence.id))
    ).all()
    listed = [
        (REPORTER_ITEM if item.from_reporter else item.description)
        + (f"（{item.collected_on}）" if item.collected_on else "")
        for item in items
        if item.recorded_by != case.subject_id  # the statement's files go with it below
    ]
    held = len(session.exec(select(Interview.id).where(Interview.case_id == case.id)).all())
    if held:
        listed.append(f"谈话笔录 {held} 份")
    if case.statement_state == StatementState.RECORDED:
        listed.append("被处理人的陈述和申辩材料")
    return listed


def _signers(session: Session, notice: DecisionNotice) -> list[tuple[str, str]]:
    capacities = (
        [("复查人", notice.signed_by)]
        if notice.kind == NoticeKind.REVIEW
        else [("指导教师", notice.signed_by), ("团委书记", notice.cosigned_by)]
    )
    return [(words, name) for words, pid in capacities if (name := _name(session, pid))]


def notice_facts(
    session: Session, case: ConductCase, notice: DecisionNotice, *, policy: Policy, committee: str
) -> NoticeFacts:
    """What ``notice`` states about ``case``."""
    subject = session.get(Person, case.subject_id)
    unit = session.get(Unit, case.unit_id)
    assert subject is not None and unit is not None
    disposition = policy.disposition(notice.disposition)
    basis = disposition.basis if disposition and disposition.basis else policy.papers.basis
    replaced = session.get(DecisionNotice, notice.supersedes_id) if notice.supersedes_id else None
    return NoticeFacts(
        committee=committee,
        kind=NoticeKind(notice.kind),
        number=notice.number,
        reference=case.reference,
        name=subject.name,
        student_number=subject.handle,
        unit=unit.name_zh,
        post=case.subject_post,
        allegations=case.allegations,
        findings_result=RESULTS.get(case.findings_result or ""),
        findings=case.findings_summary,
        evidence=_evidence(session, case),
        statement_state=case.statement_state,
        disposition=disposition.label.zh_cn if disposition else notice.disposition,
        basis=basis.zh_cn,
        period_months=disposition.period_months if disposition else None,
        effective_on=notice.effective_on,
        appeal_days=policy.deadlines.appeal_window.for_severity(case.severity),
        appeal_ends_on=notice.appeal_ends_on,
        appeal_body=policy.papers.appeal_body.zh_cn,
        signers=_signers(session, notice),
        replaces=replaced.number if replaced else None,
    )


def _letterhead(paper: Paper, facts: NoticeFacts) -> None:
    """The committee's name in red, the title, the number and a red rule (红头)."""
    paper.set_text_color(*RED)
    paper.title_block(facts.committee, size=24)
    paper.set_text_color(0, 0, 0)
    review = facts.kind is NoticeKind.REVIEW
    paper.title_block("申诉复查决定书" if review else "处理决定书", size=18)
    paper.set_font("serif", size=12)
    paper.cell(0, 8, facts.number, align="C", new_x="LMARGIN", new_y="NEXT")
    paper.set_draw_color(*RED)
    paper.set_line_width(0.8)
    y = paper.get_y() + 2
    paper.line(paper.l_margin, y, paper.w - paper.r_margin, y)
    paper.set_draw_color(0, 0, 0)
    paper.set_line_width(0.2)
    paper.ln(4)


def _subject_part(paper: Paper, facts: NoticeFacts) -> None:
    paper.heading("一、被处理人基本情况")
    number = "（未登记）" if facts.student_number.startswith(UNREGISTERED) else facts.student_number
    rows = [("姓名", facts.name), ("学号（工号）", number), ("所在单位", facts.unit)]
    rows.append(("职务", facts.post or "（未记录）"))
    rows.append(("案件编号", facts.reference))
    paper.fields(rows)


def _facts_part(paper: Paper, facts: NoticeFacts) -> None:
    paper.heading("二、认定的事实和证据")
    if facts.allegations:
        paper.paragraph(f"反映的问题：{facts.allegations}")
    found = "；".join(part for part in (facts.findings_result, facts.findings) if part)
    paper.paragraph(f"经调查核实，{found}。" if found else "经调查核实，事实见案卷。")
    heard = {
        StatementState.RECORDED: "本会已听取被处理人的陈述和申辩。",
        StatementState.WAIVED: "被处理人放弃陈述和申辩。",
    }.get(StatementState(facts.statement_state), "")
    if heard:
        paper.paragraph(heard)
    paper.paragraph("以上事实有下列证据证明：")
    listed = facts.evidence or ["（无）"]
    paper.table_of(["序号", "证据"], [[str(n), item] for n, item in enumerate(listed, 1)],
                   widths=(1, 9))  # fmt: skip


def _decision_part(paper: Paper, facts: NoticeFacts) -> None:
    paper.heading("三、处理的种类和依据")
    if facts.kind is NoticeKind.REVIEW:
        paper.paragraph(
            f"被处理人对{facts.replaces or '原处理决定'}不服，提出申诉。经复查，"
            f"依据{facts.basis}，决定将原处理决定变更为：{facts.disposition}。"
        )
    else:
        paper.paragraph(f"依据{facts.basis}，决定对{facts.name}作出如下处理：{facts.disposition}。")
    paper.heading("四、处理的期限")
    if facts.period_months:
        end = period_end(facts.effective_on, facts.period_months)
        paper.paragraph(
            f"处理期限为{facts.period_months}个月，自{day_words(facts.effective_on)}起"
            f"至{day_words(end)}止。期满后依规定解除。"
        )
    else:
        paper.paragraph(f"本处理无期限，自{day_words(facts.effective_on)}起生效。")


def _appeal_part(paper: Paper, facts: NoticeFacts) -> None:
    paper.heading("五、申诉的途径和期限")
    if facts.kind is NoticeKind.REVIEW:
        paper.paragraph("本复查决定为最终决定，自送达之日起生效。")
        return
    last = f"（即{day_words(facts.appeal_ends_on)}前）" if facts.appeal_ends_on else ""
    paper.paragraph(
        f"被处理人对本决定不服的，可以自收到本决定书之日起{facts.appeal_days}个工作日内"
        f"{last}，向{facts.appeal_body}提出书面申诉，也可以通过本人的案件查阅页面提出。"
        "逾期未提出申诉的，本决定即为最终决定。"
    )


def _signatures(paper: Paper, facts: NoticeFacts, issued: date) -> None:
    """The signers as recorded, on one line, then the committee and the date, kept together."""
    lines = ["    ".join(f"{words}：{name}" for words, name in facts.signers), "",
             facts.committee, day_words(issued)]  # fmt: skip
    if paper.get_y() + 6 + 7 * len(lines) > paper.page_break_trigger:
        paper.add_page()
    paper.ln(6)
    for line in lines:
        paper.set_x(paper.w - paper.r_margin - 80)
        paper.cell(80, 7, line, align="R" if line else "L", new_x="LMARGIN", new_y="NEXT")


def render(facts: NoticeFacts, *, issued_at: datetime) -> bytes:
    """The notice as a PDF (created at its issue, so the same notice gives the same paper)."""
    title = "申诉复查决定书" if facts.kind is NoticeKind.REVIEW else "处理决定书"
    paper = Paper(title=f"{title} {facts.number}", footer=facts.number, created=issued_at)
    _letterhead(paper, facts)
    for part in (_subject_part, _facts_part, _decision_part, _appeal_part):
        part(paper, facts)
    _signatures(paper, facts, facts.effective_on)
    return paper.to_bytes()


def decision_notice(
    *,
    uow: UnitOfWork,
    policy: Policy,
    reference: str,
    viewer: Person,
    committee: str,
    now: datetime | None = None,
) -> NoticePaper:
    """The case's notice in force as a PDF, for whoever may read the case (its subject too);
    NotFound outside their scope, NotNow while no decision stands. Each download is audited."""
    now = now or utcnow()
    with uow:
        session = uow.session
        case = case_for(session, viewer, reference).case
        notice = current_notice(session, pk(case)) if case.decision else None
        if notice is None:
            raise NotNow(
                f"{reference} has no decision notice: no decision stands", field="reference"
            )
        facts = notice_facts(session, case, notice, policy=policy, committee=committee)
        pdf = render(facts, issued_at=notice.issued_at)
        append_event(
            session, chain=case_chain(pk(case)), case_id=case.id, actor_id=viewer.id,
            action=DOWNLOADED_EVENT, at=now, data={"number": notice.number},
        )  # fmt: skip
        uow.commit()
    return NoticePaper(notice.number, f"decision-notice-{case.reference}.pdf", pdf)


def notice_in_force(*, uow: UnitOfWork, reference: str, viewer: Person) -> tuple[str, date] | None:
    """The number and date of the case's notice in force, for a page that offers it."""
    with uow:
        session = uow.session
        case = case_for(session, viewer, reference).case
        notice = current_notice(session, pk(case)) if case.decision else None
        return (notice.number, notice.effective_on) if notice else None
