"""The printed hand-over notice (告知书) for a case's subject: a fresh link and short code,
and the record that staff handed it over."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import HTMLResponse

from api.http.deps import CurrentUser, app_state, reject_unknown_query
from api.http.pages.render import page
from api.http.routes.cases import Reference
from cases import subject_links
from cases.procedure.clock import local_text, utcnow
from cases.store.db import UnitOfWork

router = APIRouter(tags=["subject notice"], dependencies=[Depends(reject_unknown_query)])


# A POST: each call issues a new link (a GET that wrote would be issued again by any
# prefetch, crawler or reload).
@router.post(
    "/cases/{reference}/subject-notice",
    status_code=201,
    response_class=HTMLResponse,
    summary="A printable notice for the subject: a fresh link and short code (shown once)",
    description="Each call issues a new link (valid for the policy's subject_link.valid_days); "
    "earlier ones keep working until they expire or are revoked. Staff who may read the "
    "case, and are none of its parties.",
)
def subject_notice(reference: Reference, user: CurrentUser, request: Request) -> HTMLResponse:
    state = app_state(request)
    notice = subject_links.hand_over(
        uow=UnitOfWork(state.db), policy=state.policy, reference=reference, staff=user,
        now=utcnow(),
    )  # fmt: skip
    portal = state.settings.portal_url.rstrip("/")
    response = page(
        request,
        "subject_notice.html",
        notice=notice,
        link=f"{portal}/s/{notice.token}",
        code_url=f"{portal}/s",
        code_groups=[notice.code[:4], notice.code[4:]],
        expires=local_text(notice.expires_at),
    )
    response.headers["Cache-Control"] = "no-store"
    response.status_code = 201
    return response


# Not under /cases/{reference}/: a POST there is a procedure action (tests/test_names.py).
@router.post(
    "/subject-notices/{notice}/handed-over",
    status_code=204,
    summary="Record that the printed notice was handed to the subject",
)
def handed_over(
    notice: Annotated[int, Path(ge=1, description="The notice number printed on it.")],
    user: CurrentUser,
    request: Request,
) -> Response:
    subject_links.record_hand_over(
        uow=UnitOfWork(app_state(request).db), staff=user, link_id=notice, now=utcnow()
    )
    return Response(status_code=204)
