"""Case list, case detail and one endpoint per staff action. Thin: parse, call, map."""

# No ``from __future__ import annotations``: the action endpoints are built in a loop and
# FastAPI must see each command class itself in the signature.
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import AfterValidator, ValidationError

from api.http import idempotency
from api.http.deps import (
    AppState,
    CurrentUser,
    IdempotencyKey,
    IfMatch,
    PolicyDep,
    ReadUowDep,
    Reference,
    StateDep,
    UowDep,
    etag,
    reject_unknown_query,
)
from api.http.schemas import MAX_ID, CasePage
from api.http.uploads import refuse_oversized
from cases import service
from cases.evidence_files import evidence_store
from cases.procedure import commands as c
from cases.procedure.vocabulary import Action, Stage
from cases.queries import CaseFilter, decode_cursor, list_cases
from cases.store.db import UnitOfWork
from cases.store.models import Person
from cases.subject_view import SubjectCaseView
from cases.views import CaseDetail, CaseState

router = APIRouter(prefix="/cases", tags=["cases"], dependencies=[Depends(reject_unknown_query)])


def _in_range(moment: datetime) -> datetime:
    """A filter time within the years a case can be filed in (no overflow converting it)."""
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise ValueError(f"must be between the years {FIRST_YEAR} and {LAST_YEAR}")
    return moment


def _issued_cursor(cursor: str | None) -> str | None:
    """A cursor this service issued: it points after a case id (a 64-bit integer)."""
    if cursor is not None and not 0 <= decode_cursor(cursor) <= MAX_ID:
        raise ValueError("not a cursor this service issued")
    return cursor


FIRST_YEAR, LAST_YEAR = c.EARLIEST_DAY.year, 2100
FiledTime = Annotated[datetime, AfterValidator(_in_range)]


@router.get("", response_model=CasePage, summary="List cases you may see")
def list_(
    user: CurrentUser,
    uow: ReadUowDep,
    stage: Stage | None = None,
    unit: Annotated[str | None, Query(description="Unit code; includes units under it")] = None,
    category: str | None = None,
    severity: str | None = None,
    assignee: Annotated[str | None, Query(description="Handle of an assigned person")] = None,
    filed_from: FiledTime | None = None,
    filed_to: FiledTime | None = None,
    overdue: Annotated[bool | None, Query(description="Only (not) overdue cases")] = None,
    due_within: Annotated[
        int | None, Query(ge=0, le=60, description="Due within N working days (or overdue)")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=40), AfterValidator(_issued_cursor)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    filters = CaseFilter(
        stage=stage,
        unit=unit,
        category=category,
        severity=severity,
        assignee=assignee,
        filed_from=filed_from,
        filed_to=filed_to,
        overdue=overdue,
        due_within=due_within,
    )
    page = list_cases(uow=uow, viewer=user, filters=filters, cursor=cursor, limit=limit)
    return CasePage(items=page.items, next_cursor=page.next_cursor)


@router.get(
    "/{reference}",
    response_model=CaseDetail | SubjectCaseView,
    summary="Case file with its timeline (its subject: what policy shows them)",
)
def detail(reference: Reference, user: CurrentUser, uow: UowDep, policy: PolicyDep) -> JSONResponse:
    case = service.read_case(uow=uow, policy=policy, reference=reference, viewer=user)
    return JSONResponse(case.model_dump(mode="json"), headers={"ETag": etag(case.version)})


# One per staff action: its command and summary. The URL segment, route name and
# operation id are the action's name (``action_path``), so there is one name for each.
ACTION_ROUTES: list[tuple[type[c.Command], str]] = [
    (c.Accept, "Accept the report (立案) with category, severity, investigators"),
    (c.Decline, "Decline the report (不予受理) with a reason"),
    (c.Assign, "Assign an investigator, verifier, advisor or appeal reviewer"),
    (
        c.RecordEvidence,
        "Record an item of evidence: its SHA-256 (JSON), or the file (multipart/form-data)",
    ),
    (c.RecordInterview, "Record an interview"),
    (c.RecordStatement, "Record the subject's statement (陈述申辩)"),
    (c.WaiveStatement, "Record the statement as waived after its period"),
    (c.SubmitFindings, "Submit findings for verification"),
    (c.Confirm, "Confirm the findings (核实)"),
    (c.ReturnFindings, "Return the findings to investigation with reasons"),
    (c.Propose, "Propose a disposition from the catalogue"),
    (c.SignOff, "Advisor signs off the proposed disposition"),
    (c.Refuse, "Refuse the proposed disposition with comments"),
    (c.CoSign, "Secretary co-signs a serious sanction"),
    (c.Appeal, "The subject appeals the decision (申诉)"),
    (c.DecideAppeal, "Uphold, change or overturn the decision on appeal"),
    (c.Close, "Close the case once the appeal window has ended"),
    (c.RequestExtension, "An assignee asks for more time in this stage (延期)"),
    (c.GrantExtension, "The secretary grants the extension: a new due day"),
    (c.RefuseExtension, "The secretary refuses the extension with a reason"),
]


def action_path(action: Action) -> str:
    """The action's URL segment under ``/cases/{reference}/``: its name, hyphenated."""
    return action.value.replace("_", "-")


def _endpoint(command_type: type[c.Command]):  # type: ignore[no-untyped-def]
    def endpoint(
        reference: Reference,
        command: command_type,  # type: ignore[valid-type]  # resolved per route by FastAPI
        user: CurrentUser,
        uow: UowDep,
        state: StateDep,
        version: IfMatch,
        key: IdempotencyKey = None,
    ) -> JSONResponse:
        return _act(reference, command, user, uow, state, version, key)

    return endpoint


def _act(
    reference: str,
    sent: c.Command,
    user: Person,
    uow: UnitOfWork,
    state: AppState,
    version: int,
    key: str | None,
    sent_file: str = "",
) -> JSONResponse:
    return idempotency.call(
        db=state.db,
        principal=f"person:{user.id}",
        key=key,
        print_=lambda: idempotency.fingerprint(
            "POST",
            f"/cases/{reference}/{sent.action}",
            f"{version}\n{sent.model_dump_json()}{sent_file}",
        ),
        service=lambda remember: service.apply_action(
            uow=uow,
            policy=state.policy,
            reference=reference,
            actor=user,
            command=sent,
            expected_version=version,
            remember=remember,
        ),
        respond=_answer,
    )


def record_evidence_upload(
    reference: Reference,
    user: CurrentUser,
    uow: UowDep,
    state: StateDep,
    version: IfMatch,
    file: Annotated[UploadFile, File(description="The item; its type is told by its content.")],
    description: Annotated[str, Form()],
    collected_on: Annotated[str | None, Form()] = None,
    sha256: Annotated[str | None, Form()] = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """record-evidence as multipart/form-data: the file is stored by the service."""
    fields = {"description": description, "collected_on": collected_on, "sha256": sha256}
    fields["filename"] = PurePath(file.filename or "").name[:200] or None
    try:
        command = c.RecordEvidence.model_validate({k: v for k, v in fields.items() if v})
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from exc
    attachment = c.Attachment(content=file.file, store=evidence_store(state.settings.data_dir))
    sent_file = f"\n{file.filename}\n{file.size}"
    return _act(reference, command.with_file(attachment), user, uow, state, version, key, sent_file)


class EvidenceRoute(APIRoute):
    """record-evidence takes a JSON body like every action, or multipart/form-data with a
    file (``record_evidence_upload``); one route, one name, two request bodies."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        as_json = super().get_route_handler()
        as_upload = APIRoute(
            self.path,
            record_evidence_upload,
            methods=["POST"],
            dependency_overrides_provider=self.dependency_overrides_provider,
        ).get_route_handler()

        async def handler(request: Request) -> Response:
            if not request.headers.get("content-type", "").startswith("multipart/form-data"):
                return await as_json(request)
            refuse_oversized(request)  # before it is read
            return await as_upload(request)

        return handler


UPLOAD_BODY = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["description", "file"],
                    "properties": {
                        "description": {"type": "string"},
                        "collected_on": {"type": "string", "format": "date"},
                        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        "file": {"type": "string", "format": "binary"},
                    },
                }
            }
        }
    }
}


def _answer(case: CaseState) -> idempotency.Outcome:
    return 200, case.model_dump(mode="json"), {"ETag": etag(case.version)}


for _command, _summary in ACTION_ROUTES:
    _upload = _command is c.RecordEvidence
    router.add_api_route(
        f"/{{reference}}/{action_path(_command.action)}",
        _endpoint(_command),
        methods=["POST"],
        response_model=CaseState,
        summary=_summary,
        name=_command.action.value,
        operation_id=_command.action.value,
        route_class_override=EvidenceRoute if _upload else None,
        openapi_extra=UPLOAD_BODY if _upload else None,
    )
