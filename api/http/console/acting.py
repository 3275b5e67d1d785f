"""A staff action posted from a console form, carried out the same way for every page
that has such forms (the case page, the sign-off page, the board): the posted form read
into the action's command (action_forms.form_for / values_of), ``apply_action`` in the
thread pool with the case version the page showed, and the answer as a ``Refusal`` the
page renders beside its fields (or ``None``: done). Each page decides only where to go
when done and how to show a refusal; a NotFound of the case itself propagates, so that
each page answers with its own 404 page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from api.http.console.action_forms import ActionForm, form_for, shown_values, values_of
from api.http.console.render import text
from api.http.deps import app_state
from api.http.pages.render import field_errors
from api.http.problems import status_of
from cases import service
from cases.evidence_files import evidence_store
from cases.procedure import commands as c
from cases.procedure.errors import DomainError, NotFound, VersionConflict
from cases.procedure.vocabulary import Action
from cases.store.db import UnitOfWork
from cases.store.models import Person

MOVED = "case.conflict"  # someone else moved the case first: the page is shown again


@dataclass(frozen=True)
class Refusal:
    """Why the action was not carried out, in the page's language."""

    status: int  # 422 a field, 409 someone else first, else the page's refusal status
    errors: dict[str, str]  # field -> its message, shown beside the field
    notice: str  # the message on top of the form ("" when all are beside their fields)
    values: dict[str, Any]  # what was posted, shown again

    def keyed(self, prefix: str) -> dict[str, Any]:
        """The page's context for it, each field's key ``prefix`` + its name."""
        return {
            "status": self.status,
            "notice": self.notice,
            "errors": {prefix + name: message for name, message in self.errors.items()},
            "values": {prefix + name: value for name, value in self.values.items()},
        }


async def act(
    request: Request,
    staff: Person,
    reference: str,
    action: Action,
    sent: FormData,
    *,
    file: UploadFile | None = None,
    given: Mapping[str, str] | None = None,
) -> Refusal | None:
    """Carry out ``action`` on ``reference`` as ``staff`` from the posted form ``sent``
    (its ``version`` the case version the page showed; ``file`` the item of
    record-evidence). ``given``: fields the page sets itself, never shown (their messages
    go on top). A refusal has the status the API gives it (an unknown person named in a
    field: 422). Raises NotFound when the case is not there for ``staff``."""
    state = app_state(request)
    form = form_for(action, policy=state.policy, staff=[], language="en", t=lambda key: key)
    fields = {f.name for f in form.fields} - set(given or ())
    shown = {k: v for k, v in shown_values(form, sent).items() if k in fields}
    if given:
        sent = FormData([*sent.multi_items(), *given.items()])
    try:
        await run_in_threadpool(
            service.apply_action,
            uow=UnitOfWork(state.db),
            policy=state.policy,
            reference=reference,
            actor=staff,
            command=_command(request, form, sent, file),
            expected_version=_version(sent),
        )
    except ValidationError as exc:
        return _placed(422, field_errors(request, exc), fields, shown)
    except VersionConflict:
        return Refusal(409, {}, text(request, MOVED), shown)
    except DomainError as exc:
        if isinstance(exc, NotFound) and exc.field in (None, "reference"):
            raise
        status = 422 if isinstance(exc, NotFound) else status_of(exc)
        return _placed(status, {exc.field or "": exc.detail}, fields, shown)
    return None


def _placed(
    status: int, messages: dict[str, str], fields: set[str], shown: dict[str, Any]
) -> Refusal:
    """Each message beside the field it names when the page shows it, else on top."""
    beside = {name: message for name, message in messages.items() if name in fields}
    on_top = " ".join(message for name, message in messages.items() if name not in fields)
    return Refusal(status, beside, on_top, shown)


def _command(
    request: Request, form: ActionForm, sent: FormData, file: UploadFile | None
) -> c.Command:
    """The posted form as the action's command (record-evidence with its file, if any)."""
    command = c.COMMANDS[form.action].model_validate(values_of(form, sent))
    if isinstance(command, c.RecordEvidence) and file is not None and file.filename:
        name = file.filename.replace("\\", "/").rsplit("/", 1)[-1][:200] or None
        store = evidence_store(app_state(request).settings.data_dir)
        named = command.model_copy(update={"filename": name})
        return named.with_file(c.Attachment(content=file.file, store=store))
    return command


def _version(sent: FormData) -> int:
    """The case version the page showed (-1, never a version, when none came)."""
    version = posted(sent, "version")
    return int(version) if version.isdigit() else -1


def posted(sent: FormData, name: str) -> str:
    """The posted text field ``name`` ("" when absent or a file)."""
    value = sent.get(name)
    return value if isinstance(value, str) else ""
