"""The case page's action forms, generated from the command models
(cases/procedure/commands.py): one form per permitted action, its fields from the
pydantic model, and the posted form read back into that model.

Strings are text inputs (textareas when long), policy codes (category, severity,
disposition) and literals/enums are selects, handles are selects of staff, dates are date
inputs, bools checkboxes, lists of reasons a textarea of one reason per line."""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin

from pydantic.fields import FieldInfo
from starlette.datastructures import FormData

from cases.procedure import commands as c
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import STAFF_ROLES, Action, Role
from cases.queries import StaffChoice

POLICY_CODES: dict[str, Callable[[Policy], list[Any]]] = {
    "category": lambda policy: policy.categories,
    "severity": lambda policy: policy.severities,
    "disposition": lambda policy: policy.dispositions,
    "recommended_disposition": lambda policy: policy.dispositions,
}
# Whom a handle field offers: investigators for "investigators"; anyone with a staff role
# for "person" (assign: the capacity chosen beside it decides; the service checks).
HANDLES: dict[str, frozenset[str]] = {
    "investigators": frozenset({Role.INVESTIGATOR}),
    "person": frozenset(STAFF_ROLES),
}
FILE_FIELD = "file"  # record-evidence: the item itself, stored by the service
LONG = 200  # a string field longer than this is a textarea


@dataclass(frozen=True)
class FormField:
    name: str
    kind: str  # text, textarea, lines, select, multiple, date, checkbox, file
    required: bool
    max_length: int = LONG
    choices: list[tuple[str, str]] = field(default_factory=list)  # (value, words)


@dataclass(frozen=True)
class ActionForm:
    action: Action
    path: str  # the URL segment, as the API's (api/http/routes/cases.py action_path)
    fields: list[FormField]

    @property
    def multipart(self) -> bool:
        return any(f.kind == "file" for f in self.fields)


def action_path(action: Action) -> str:
    """The action's URL segment: its name, hyphenated (as the API's)."""
    return action.value.replace("_", "-")


def action_of_path(path: str) -> Action | None:
    value = path.replace("-", "_")
    return Action(value) if value in Action._value2member_map_ else None


def _bare(annotation: Any) -> Any:
    """``annotation`` without ``| None``."""
    if get_origin(annotation) in (Union, types.UnionType):
        kept = [a for a in get_args(annotation) if a is not type(None)]
        return kept[0] if len(kept) == 1 else annotation
    return annotation


def _max_length(info: FieldInfo, annotation: Any) -> int:
    for source in (info.metadata, getattr(annotation, "__metadata__", ())):
        for item in source:
            limit = getattr(item, "max_length", None)
            if limit:
                return int(limit)
    args = get_args(annotation)
    return _max_length(FieldInfo(annotation=args[0]), args[0]) if args else 0


def _field(
    name: str, info: FieldInfo, policy: Policy, staff: list[StaffChoice], language: str, t: Any
) -> FormField:
    kind_of = _bare(info.annotation)
    required = info.is_required()
    if name in POLICY_CODES:
        codes = [(e.code, e.label.text(language)) for e in POLICY_CODES[name](policy)]
        return FormField(name, "select", required, choices=codes)
    if name in HANDLES:
        kind = "multiple" if get_origin(kind_of) is list else "select"
        people = [(p.handle, f"{p.name} ({p.handle})") for p in staff if p.roles & HANDLES[name]]
        return FormField(name, kind, required, choices=people)
    if get_origin(kind_of) is Literal:
        values = [str(getattr(v, "value", v)) for v in get_args(kind_of)]
        return FormField(name, "select", required, choices=[(v, t(f"choice.{v}")) for v in values])
    if isinstance(kind_of, type) and issubclass(kind_of, Enum):
        values = [str(m.value) for m in kind_of]
        return FormField(name, "select", required, choices=[(v, t(f"choice.{v}")) for v in values])
    if kind_of is date or _is_date(kind_of):
        return FormField(name, "date", required)
    if kind_of is bool:
        return FormField(name, "checkbox", False)
    if get_origin(kind_of) is list:
        return FormField(name, "lines", required, max_length=5000)
    limit = _max_length(info, kind_of) or LONG
    return FormField(name, "textarea" if limit > LONG else "text", required, max_length=limit)


def _is_date(annotation: Any) -> bool:
    """An ``Annotated[date, ...]`` (PastDate)."""
    args = get_args(annotation)
    return bool(args) and args[0] is date


def form_for(
    action: Action, *, policy: Policy, staff: list[StaffChoice], language: str, t: Any
) -> ActionForm:
    """The form of ``action``'s command."""
    command = c.COMMANDS[action]
    fields = [
        _field(name, info, policy, staff, language, t)
        for name, info in command.model_fields.items()
        if not (action is Action.RECORD_EVIDENCE and name == "filename")  # from the file
    ]
    if action is Action.RECORD_EVIDENCE:
        fields.insert(1, FormField(FILE_FIELD, "file", False))
    return ActionForm(action, action_path(action), fields)


def values_of(form: ActionForm, sent: FormData) -> dict[str, Any]:
    """The posted fields as the command model takes them; a field left empty is left out
    (its default, or the model's "missing")."""
    values: dict[str, Any] = {}
    for f in form.fields:
        if f.kind == "file":
            continue
        if f.kind == "multiple":
            chosen = [str(v).strip() for v in sent.getlist(f.name) if str(v).strip()]
            if chosen:
                values[f.name] = chosen
        elif f.kind == "lines":
            lines = [line.strip() for line in str(sent.get(f.name) or "").splitlines()]
            if any(lines):
                values[f.name] = [line for line in lines if line]
        elif f.kind == "checkbox":
            values[f.name] = sent.get(f.name) is not None
        else:
            value = sent.get(f.name)
            if isinstance(value, str) and value.strip():
                values[f.name] = value
    return values


def shown_values(form: ActionForm, sent: FormData) -> dict[str, Any]:
    """What the person typed, to show again beside the messages (lists as lists)."""
    shown: dict[str, Any] = {}
    for f in form.fields:
        if f.kind == "multiple":
            shown[f.name] = [str(v) for v in sent.getlist(f.name)]
        elif f.kind != "file":
            value = sent.get(f.name)
            shown[f.name] = value if isinstance(value, str) else ""
    return shown
