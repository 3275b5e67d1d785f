"""Human-edited YAML files validated by a pydantic model; errors name file, line/field, reason."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from cases.procedure.policy import Policy, PolicyError

M = TypeVar("M", bound=BaseModel)
_FIELD_FIRST = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)+): (.*)$", re.DOTALL)


def load_validated(path: Path, model: type[M], error: type[Exception], what: str) -> M:
    """Read ``path`` as YAML into ``model``, or raise ``error`` naming file, field and reason."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"{where}: not valid YAML: {problem}") from exc
    if not isinstance(raw, dict):
        raise error(f"{path}: the {what} must be a mapping of settings")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for problem in exc.errors():
            field = ".".join(str(p) for p in problem["loc"])
            reason = problem["msg"].removeprefix("Value error, ")
            if not field:  # a check across fields says which field it is about
                named = _FIELD_FIRST.match(reason)
                field, reason = named.groups() if named else ("(top level)", reason)
            lines.append(f"{path}: field {field}: {reason}")
        raise error("\n".join(lines)) from exc


def load_policy(path: Path) -> Policy:
    """Read and validate the policy file, or raise PolicyError naming file, field and reason."""
    return load_validated(path, Policy, PolicyError, "policy file")
