"""The case-handling policy: a human-edited YAML file validated at start-up."""

from __future__ import annotations

from datetime import time
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cases.vocabulary import Stage
from cases.yamlfile import load_validated

LANGUAGES = ("zh-CN", "en")
NOTIFY_TARGETS = Literal["assignees", "secretary", "advisor", "reporter", "subject"]
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]


class PolicyError(Exception):
    """The policy file cannot be used; the message names the file, the field and the reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Label(_Strict):
    zh_cn: str = Field(alias="zh-CN", min_length=1)
    en: str = Field(min_length=1)

    def text(self, language: str) -> str:
        """The label in ``language`` (zh-CN unless en is asked for)."""
        return self.en if language == "en" else self.zh_cn


class Entry(_Strict):
    code: Code
    label: Label


class Disposition(Entry):
    requires_cosign: bool = False


class StageDeadline(_Strict):
    working_days: int = Field(ge=1, le=120)
    by_severity: dict[str, int] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_int(cls, value: Any) -> Any:
        return {"working_days": value} if isinstance(value, int) else value

    def for_severity(self, severity: str | None) -> int:
        """Working days allowed for a case of ``severity``."""
        return self.by_severity.get(severity or "", self.working_days)


class Deadlines(_Strict):
    intake: StageDeadline
    investigation: StageDeadline
    verification: StageDeadline
    disposition: StageDeadline
    appeal_window: StageDeadline
    appeal_review: StageDeadline
    statement_period: StageDeadline

    def for_stage(self, stage: Stage) -> StageDeadline | None:
        """The deadline of ``stage``, or None for a stage without one (closed)."""
        return getattr(self, stage.value, None) if stage is not Stage.CLOSED else None


class EscalationStep(_Strict):
    step: Code
    offset_working_days: int = Field(ge=-10, le=60)
    notify: list[NOTIFY_TARGETS] = Field(min_length=1)
    flag: Literal["red"] | None = None


class Extensions(_Strict):
    max_per_stage: int = Field(default=1, ge=0, le=5)


class Triage(_Strict):
    duplicate_window_days: int = Field(default=90, ge=1, le=3650)


class SubjectView(_Strict):
    """What the subject of a case is shown (陈述申辩: enough to answer, nothing that
    exposes the reporter or witnesses). The allegations as staff summarised them, the
    facts relied on and the evidence list are always shown: the subject must know them."""

    report_text: bool = Field(
        default=False, description="The report's own words (summary and details as filed)."
    )
    witness_names: bool = Field(default=False, description="Who was interviewed.")
    internal_deadlines: bool = Field(
        default=False,
        description="Staff due times, the escalation ladder and its flags (the subject's own "
        "statement and appeal deadlines are always shown).",
    )
    case_team: bool = Field(
        default=False, description="The names of the investigators, verifiers and advisors."
    )


class Policy(_Strict):
    version: int = Field(ge=1)
    end_of_day: time
    categories: list[Entry] = Field(min_length=1)
    severities: list[Entry] = Field(min_length=1)
    dispositions: list[Disposition] = Field(min_length=1)
    deadlines: Deadlines
    extensions: Extensions = Extensions()
    triage: Triage = Triage()
    subject_view: SubjectView = SubjectView()
    escalation: list[EscalationStep] = Field(min_length=1)

    @field_validator("categories", "severities", "dispositions", "escalation")
    @classmethod
    def _unique_codes(cls, entries: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for entry in entries:
            code = getattr(entry, "code", None) or entry.step
            if code in seen:
                raise ValueError(f"duplicate code {code!r}")
            seen.add(code)
        return entries

    @model_validator(mode="after")
    def _cross_references(self) -> Policy:
        severities = {s.code for s in self.severities}
        for name in Deadlines.model_fields:
            for severity in getattr(self.deadlines, name).by_severity:
                if severity not in severities:
                    raise ValueError(
                        f"deadlines.{name}.by_severity: unknown severity {severity!r} "
                        f"(known: {', '.join(sorted(severities))})"
                    )
        offsets = [s.offset_working_days for s in self.escalation]
        if offsets != sorted(offsets):
            raise ValueError("escalation: steps must be in order of offset_working_days")
        return self

    @cached_property
    def category_codes(self) -> frozenset[str]:
        return frozenset(c.code for c in self.categories)

    @cached_property
    def severity_codes(self) -> frozenset[str]:
        return frozenset(s.code for s in self.severities)

    def disposition(self, code: str) -> Disposition | None:
        """The catalogue entry for ``code``, if any."""
        return next((d for d in self.dispositions if d.code == code), None)


def load_policy(path: Path) -> Policy:
    """Read and validate the policy file, or raise PolicyError naming file, field and reason."""
    return load_validated(path, Policy, PolicyError, "policy file")
