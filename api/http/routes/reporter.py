"""What a reporter does with the receipt code besides reading the status: write to the
case team, add evidence while the case is open, rate the handling once it is closed. The
code travels in the body, never in a URL; wrong codes are slowed like status reads."""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.http import throttle
from api.http.deps import AppState, PolicyDep, StateDep, reject_unknown_query
from api.http.routes.reports import TOO_MANY
from api.http.uploads import LimitedUploadRoute
from cases import messages, reporter_side
from cases.evidence_files import evidence_store
from cases.procedure.commands import Attachment
from cases.store.db import UnitOfWork

router = APIRouter(
    prefix="/reports", tags=["reports"], dependencies=[Depends(reject_unknown_query)]
)
ReceiptCode = Field(max_length=100, description="The receipt code shown at filing.")
_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No report matches (one answer for any wrong code)."},
    409: {"description": "Not now: the case is closed, already rated, or awaits an answer."},
    **TOO_MANY,
}


class ReporterMessageIn(messages.NewMessage):
    receipt_code: str = ReceiptCode


class SurveyIn(reporter_side.SurveyAnswerIn):
    receipt_code: str = ReceiptCode


class Recorded(BaseModel):
    id: int = Field(description="The new message's or item's number.")


def _case_id(request: Request, state: AppState, code: str) -> int:
    """The case the code opens (Refused, the 429, when this client must wait first)."""
    return throttle.looked_up(
        request,
        state.secret,
        lambda: reporter_side.open_receipt(
            uow=UnitOfWork(state.db, write=False), secret=state.secret, receipt_code=code
        ),
    )


@router.post(
    "/messages",
    status_code=201,
    response_model=Recorded,
    summary="Write to the case team (with the receipt code)",
    responses=_ANSWERS,
)
def write_to_team(
    sent: ReporterMessageIn, request: Request, policy: PolicyDep, state: StateDep
) -> Recorded | JSONResponse:
    case_id = _case_id(request, state, sent.receipt_code)
    number = messages.send_from_reporter(
        uow=UnitOfWork(state.db), policy=policy, case_id=case_id,
        message=messages.NewMessage(body=sent.body),
    )  # fmt: skip
    return Recorded(id=number)


def add_evidence(
    request: Request,
    policy: PolicyDep,
    state: StateDep,
    receipt_code: Annotated[str, Form(max_length=100)],
    file: Annotated[UploadFile, File(description="The item; its type is told by its content.")],
    description: Annotated[str, Form(max_length=200)] = "",
) -> Recorded | JSONResponse:
    case_id = _case_id(request, state, receipt_code)
    number = reporter_side.add_evidence(
        uow=UnitOfWork(state.db),
        policy=policy,
        case_id=case_id,
        attachment=Attachment(content=file.file, store=evidence_store(state.settings.data_dir)),
        filename=PurePath(file.filename or "").name[:200] or None,
        description=description.strip(),
    )
    return Recorded(id=number)


router.add_api_route(
    "/evidence",
    add_evidence,
    methods=["POST"],
    status_code=201,
    response_model=Recorded,
    summary="Add evidence to an open case (with the receipt code)",
    responses={
        **_ANSWERS,
        413: {"description": "Too large (policy evidence limits)."},
        415: {"description": "Not a type the evidence store takes (told by content)."},
    },
    route_class_override=LimitedUploadRoute,
)


@router.post(
    "/survey",
    status_code=204,
    response_class=Response,
    summary="Rate how a closed case was handled, once (with the receipt code)",
    responses=_ANSWERS,
)
def rate(sent: SurveyIn, request: Request, state: StateDep) -> Response:
    case_id = _case_id(request, state, sent.receipt_code)
    answer = reporter_side.SurveyAnswerIn(score=sent.score, comment=sent.comment)
    reporter_side.answer_survey(uow=UnitOfWork(state.db), case_id=case_id, answer=answer)
    return Response(status_code=204)
