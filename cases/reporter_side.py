"""What a reporter does with their receipt code besides reading: open the case for a
visit, add evidence while it is open, and rate its handling once it is closed (同学满意度,
one of the figures the committee is judged by). Each is an audit event on the case."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlmodel import Session, select

from cases.audit import append_event, case_chain
from cases.evidence_files import add_item
from cases.notices import notify
from cases.people.secrets import check_receipt, normalise_receipt, receipt_lookup
from cases.procedure.clock import utcnow
from cases.procedure.commands import Attachment
from cases.procedure.errors import NotFound, NotNow
from cases.procedure.policy import Policy
from cases.procedure.text import OptionalLines, UnixNewlines
from cases.procedure.vocabulary import Stage
from cases.store.db import UnitOfWork
from cases.store.models import ConductCase, pk
from cases.store.reporter_side import SurveyAnswer

EVIDENCE_EVENT = "evidence.added_by_reporter"
SURVEY_EVENT = "survey.answered"
REPORTER_ADDED = "举报人补充材料"  # an item the reporter added without saying what it shows
MAX_REPORT_FILES = 5  # files sent with the report form
# The one answer to every code that does not open a case (zh-CN, then en).
NO_SUCH_RECEIPT = (
    "未找到与该查询码对应的举报，请核对后重试。"
    " / No report matches this receipt code; check it and try again."
)
# Queried when the code is malformed, so a malformed code costs what a wrong one does.
_NO_LOOKUP = "0" * 64
Comment = Annotated[
    str, UnixNewlines, StringConstraints(strip_whitespace=True, max_length=1000), OptionalLines
]
Description = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200), OptionalLines
]


class SurveyAnswerIn(BaseModel):
    """The reporter's rating of how their case was handled."""

    model_config = ConfigDict(extra="forbid")
    score: int = Field(ge=1, le=5, description="1 (very dissatisfied) to 5 (very satisfied).")
    comment: Comment = ""


def receipt_case(session: Session, secret: bytes, receipt_code: str) -> ConductCase:
    """The case ``receipt_code`` opens. Every other code gets one NotFound after the same
    work (the keyed index queried, an Argon2 hash checked: a dummy one when none matched)."""
    normal = normalise_receipt(receipt_code)
    lookup = receipt_lookup(secret, normal) if normal else _NO_LOOKUP
    case = session.exec(select(ConductCase).where(ConductCase.receipt_lookup == lookup)).first()
    if not check_receipt(case.receipt_hash if case else None, normal or receipt_code):
        raise NotFound(NO_SUCH_RECEIPT, field="receipt_code")
    assert case is not None  # check_receipt is False without a case
    return case


def open_receipt(*, uow: UnitOfWork, secret: bytes, receipt_code: str) -> int:
    """The id of the case ``receipt_code`` opens (NotFound, one answer, otherwise)."""
    with uow:
        return pk(receipt_case(uow.session, secret, receipt_code))


def _open_case(session: Session, case_id: int, doing: str) -> ConductCase:
    case = session.get(ConductCase, case_id, with_for_update=True)
    if case is None:
        raise NotFound(NO_SUCH_RECEIPT, field="receipt_code")
    if Stage(case.stage) is Stage.CLOSED:
        raise NotNow(f"the case is closed: no more {doing}", field="file")
    return case


def add_evidence(
    *,
    uow: UnitOfWork,
    policy: Policy,
    case_id: int,
    attachment: Attachment,
    filename: str | None,
    description: str,
    now: datetime | None = None,
) -> int:
    """Store a file the reporter adds to their open case and tell the team; the item's id."""
    now = now or utcnow()
    with uow:
        session = uow.session
        case = _open_case(session, case_id, "evidence")
        item = add_item(
            session, case, policy.evidence, attachment, description=description or REPORTER_ADDED,
            filename=filename, recorded_by=None, now=now,
        )  # fmt: skip
        data = {"evidence": item.id, "sha256": item.sha256, "media_type": item.media_type}
        appended = append_event(
            session, chain=case_chain(case_id), case_id=case_id, action=EVIDENCE_EVENT,
            at=now, data={**data, "size_bytes": item.size_bytes},
        )  # fmt: skip
        notify(session, case, event=EVIDENCE_EVENT, seq=appended.seq, now=now, policy=policy)
        uow.commit()
        return pk(item)


def answer_survey(
    *, uow: UnitOfWork, case_id: int, answer: SurveyAnswerIn, now: datetime | None = None
) -> None:
    """Record the reporter's one rating of their closed case."""
    now = now or utcnow()
    with uow:
        session = uow.session
        case = session.get(ConductCase, case_id, with_for_update=True)
        if case is None:
            raise NotFound(NO_SUCH_RECEIPT, field="receipt_code")
        if Stage(case.stage) is not Stage.CLOSED:
            raise NotNow("the case is not closed yet: rate it once it is", field="score")
        if session.get(SurveyAnswer, case_id) is not None:
            raise NotNow("this case has been rated already", field="score")
        comment = answer.comment or None
        rating = SurveyAnswer(case_id=case_id, score=answer.score, comment=comment, answered_at=now)
        session.add(rating)
        append_event(
            session, chain=case_chain(case_id), case_id=case_id, action=SURVEY_EVENT, at=now,
            data={"score": answer.score, "comment": comment},
        )  # fmt: skip
        uow.commit()


def survey_answered(session: Session, case_id: int) -> bool:
    return session.get(SurveyAnswer, case_id) is not None
