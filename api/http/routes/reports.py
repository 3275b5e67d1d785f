"""Filing a report: anyone (named or anonymous); the receipt code is returned once."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.http import idempotency
from api.http.deps import (
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

router = APIRouter(tags=["reports"], dependencies=[Depends(reject_unknown_query)])


@router.post(
    "/reports",
    status_code=201,
    response_model=ReportFiled,
    summary="File a report (named or anonymous)",
)
def file_report(
    report: FileReport,
    user: OptionalUser,
    uow: UowDep,
    policy: PolicyDep,
    state: StateDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    principal = f"person:{user.id}" if user else "anonymous"
    # With a key, the code is derived from it, so a replay can show it again without storing it.
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

    return idempotency.call(
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
            remember=remember,
        ),
        respond=answer,
        # Never stored: a replay derives the code again from the key.
        store=lambda body: {**body, "receipt_code": None},
        restore=lambda body: {**body, "receipt_code": code},
    )
