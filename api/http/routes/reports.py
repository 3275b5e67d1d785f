"""Filing a report: anyone (named or anonymous); the receipt code is returned once. With it,
the reporter follows the case (POST /reports/status: the code in the body, never in a URL
or an access log). Both are throttled per client address (api.http.throttle)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.http import idempotency, throttle
from api.http.deps import (
    AppState,
    IdempotencyKey,
    OptionalUser,
    PolicyDep,
    StateDep,
    UowDep,
    etag,
    reject_unknown_query,
)
from api.http.schemas import ReportFiled
from cases import service
from cases.people.secrets import derived_receipt_code, receipt_code, seal
from cases.procedure.commands import FileReport
from cases.procedure.policy import Policy
from cases.reporter_view import ReporterCaseView, reporter_view
from cases.store.db import UnitOfWork
from cases.store.models import Person

router = APIRouter(tags=["reports"], dependencies=[Depends(reject_unknown_query)])

TOO_MANY: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many requests: wait Retry-After seconds."}
}


class ReceiptQuery(BaseModel):
    receipt_code: str = Field(
        max_length=100,
        description="The receipt code shown at filing (case, spaces, dashes "
        "and O/I/L for 0/1/1 do not matter).",
    )


@router.post(
    "/reports",
    status_code=201,
    response_model=ReportFiled,
    summary="File a report (named or anonymous)",
    responses=TOO_MANY,
)
def file_report(
    report: FileReport,
    request: Request,
    user: OptionalUser,
    uow: UowDep,
    policy: PolicyDep,
    state: StateDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    with throttle.filing(request, policy, state.secret):  # Refused: the one 429 (problems.py)
        return _file(report, request, user, uow, policy, state, key)


def _file(
    report: FileReport,
    request: Request,
    user: Person | None,
    uow: UnitOfWork,
    policy: Policy,
    state: AppState,
    key: str | None,
) -> JSONResponse:
    # An anonymous key replays only for the client secret it came with (api.http.idempotency).
    caller = idempotency.anonymous_caller(request, state.secret, key) if key and not user else None
    principal = f"person:{user.id}" if user else caller.principal if caller else "anonymous"
    # With a key, the code is derived from it and the key space, so a replay can show it again
    # without storing it (and only to the caller that holds that space).
    code = derived_receipt_code(state.secret, principal, key) if key else receipt_code()

    def answer(filed: service.FiledReport) -> idempotency.Outcome:
        body = ReportFiled(
            reference=filed.reference,
            stage=filed.stage,
            version=filed.version,
            filed_at=filed.filed_at,
            receipt_code=code,
        ).model_dump(mode="json")
        return 201, body, {"ETag": etag(filed.version), "Location": f"/cases/{filed.reference}"}

    response = idempotency.call(
        db=state.db,
        principal=principal,
        key=key,
        print_=lambda: idempotency.fingerprint("POST", "/reports", report.model_dump_json()),
        service=lambda remember: service.file_report(
            uow=uow,
            policy=policy,
            report=report,
            reporter=user,
            receipt_code=code,
            sealed_receipt=seal(state.secret, code),
            secret=state.secret,
            remember=remember,
        ),
        respond=answer,
        # Never stored: a replay derives the code again from the key.
        store=lambda body: {**body, "receipt_code": None},
        restore=lambda body: {**body, "receipt_code": code},
    )
    if caller:
        idempotency.hand_over(response, request, caller)
    return response


@router.post(
    "/reports/status",
    response_model=ReporterCaseView,
    summary="Follow a report with its receipt code",
    responses={
        404: {"description": "No report matches (one answer for any wrong code)."},
        **TOO_MANY,
    },
)
def report_status(
    query: ReceiptQuery,
    request: Request,
    response: Response,
    uow: UowDep,
    policy: PolicyDep,
    state: StateDep,
) -> ReporterCaseView | JSONResponse:
    view = throttle.looked_up(
        request,
        state.secret,
        lambda: reporter_view(
            uow=uow, policy=policy, secret=state.secret, receipt_code=query.receipt_code
        ),
    )
    response.headers["Cache-Control"] = "no-store"
    return view
