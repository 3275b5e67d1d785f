"""The case-handling policy: a human-edited YAML file validated at start-up."""

from __future__ import annotations

from datetime import time
from functools import cached_property
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, field_validator, model_validator

from cases.procedure.strict import StrictModel
from cases.procedure.vocabulary import STAFF_STAGES, Role, Stage

# Who a ladder step may tell: staff. The reporter may be unreachable (anonymous) and the
# subject is not shown internal deadlines, so neither is a ladder audience.
LadderAudience = Literal["assignees", "triagers", "secretary", "advisor"]
# Audiences that are nobody by construction in a stage: nobody is assigned to a case
# before it is accepted (the people who triage the unit's reports are `triagers`).
NOBODY_IN: dict[str, dict[Stage, str]] = {
    "assignees": {Stage.INTAKE: "nobody is assigned to a case before it is accepted"}
}
# The appeal window's one step: when it falls due with no appeal, the case closes.
APPEAL_WINDOW_STEP = "close"
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]


class PolicyError(Exception):
    """The policy file cannot be used; the message names the file, the field and the reason."""


class Label(StrictModel):
    zh_cn: str = Field(alias="zh-CN", min_length=1)
    en: str = Field(min_length=1)

    def text(self, language: str) -> str:
        """The label in ``language`` (zh-CN unless en is asked for)."""
        return self.en if language == "en" else self.zh_cn


class Entry(StrictModel):
    code: Code
    label: Label


class Category(Entry):
    work_style: bool = Field(
        default=False,
        description="A work-style (工作作风) category: counted apart in a unit's 述职考评 figures.",
    )


class Disposition(Entry):
    requires_cosign: bool = False
    period_months: int | None = Field(
        default=None,
        ge=1,
        le=24,
        description="How long the disposition stands (处分期限) before it is lifted; none: "
        "it has no period.",
    )
    basis: Label | None = Field(
        default=None, description="The rule it rests on, as the decision notice cites it."
    )


class StageDeadline(StrictModel):
    working_days: int = Field(ge=1, le=120)
    by_severity: dict[str, int] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_int(cls, value: Any) -> Any:
        return {"working_days": value} if isinstance(value, int) else value

    def for_severity(self, severity: str | None) -> int:
        """Working days allowed for a case of ``severity``."""
        return self.by_severity.get(severity or "", self.working_days)


class Deadlines(StrictModel):
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


class EscalationStep(StrictModel):
    """One step of the ladder: when (working days from the due time), what it is called in
    messages, and whom it tells; ``notify_in`` replaces ``notify`` in the stages it names."""

    step: Code
    label: Label
    offset_working_days: int = Field(ge=-10, le=60)
    notify: list[LadderAudience] = Field(min_length=1)
    notify_in: dict[Stage, Annotated[list[LadderAudience], Field(min_length=1)]] = Field(
        default_factory=dict
    )
    flag: Literal["red"] | None = None

    def audiences(self, stage: Stage) -> list[str]:
        """Whom this step tells in ``stage``."""
        return list(self.notify_in.get(stage, self.notify))

    def problems(self, index: int) -> list[str]:
        """What is wrong with this step, each naming its field (empty when nothing is)."""
        where = f"escalation.{index}"
        found = [
            f"{where}.notify_in: {stage.value} has no ladder (it runs in "
            f"{', '.join(s.value for s in STAFF_STAGES)})"
            for stage in self.notify_in
            if stage not in STAFF_STAGES
        ]
        if self.step == APPEAL_WINDOW_STEP:
            found.append(f"{where}.step: {self.step!r} is the appeal window's own step")
        for stage in STAFF_STAGES:
            field = "notify_in." + stage.value if stage in self.notify_in else "notify"
            found += [
                f"{where}.{field}: {audience!r} is nobody in {stage.value} ({why}), so the "
                f"{self.step} step would reach nobody there; name whom it tells there under "
                f"notify_in.{stage.value} (who triage the unit's reports: triagers)"
                for audience in self.audiences(stage)
                if (why := NOBODY_IN.get(audience, {}).get(stage))
            ]
        return found


class Extensions(StrictModel):
    max_per_stage: int = Field(default=1, ge=0, le=5)


class Triage(StrictModel):
    duplicate_window_days: int = Field(default=90, ge=1, le=3650)


class SubjectView(StrictModel):
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


class Intake(StrictModel):
    """How many reports the intake takes within an hour, from one client address and from
    everyone; beyond either, filing answers 429 with Retry-After."""

    per_client_per_hour: int = Field(default=5, ge=1, le=10_000)
    overall_per_hour: int = Field(default=20, ge=1, le=1_000_000)


# What a closed case's outcome is, as the reporter is told it (words in reporter_view).
ReporterOutcome = Literal[
    "declined", "substantiated", "partly_substantiated", "unsubstantiated", "overturned"
]


class ReporterView(StrictModel):
    """What a reporter who gives their receipt code is told (POST /reports/status): the
    reference, the stage in the words below, the filed date, and what the switches allow."""

    stages: dict[Stage, Label] = Field(description="Every stage in the reporter's words.")
    due_date: bool = Field(default=False, description="The current stage's due date.")
    outcome: Literal["none", "result", "decision"] = Field(
        default="result",
        description="After closure: nothing, the result (declined, substantiated or not, "
        "overturned on appeal), or the result and the disposition decided.",
    )
    outcomes: dict[ReporterOutcome, Label] = Field(default_factory=dict)
    session_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="How long the status page stays open."
    )
    unanswered_messages: int = Field(
        default=5, ge=1, le=100, description="Messages a reporter may send before an answer."
    )

    @model_validator(mode="after")
    def _complete(self) -> ReporterView:
        missing = [s.value for s in Stage if s not in self.stages]
        if missing:
            raise ValueError(f"reporter_view.stages: no words for {', '.join(missing)}")
        needed = get_args(ReporterOutcome) if self.outcome != "none" else ()
        missing = [o for o in needed if o not in self.outcomes]
        if missing:
            raise ValueError(f"reporter_view.outcomes: no words for {', '.join(missing)}")
        return self


class SubjectLinks(StrictModel):
    """The subject's links (/s/<token>, or the short code at /s): how long one opens the
    subject's page, and how long a visit lasts before the link is needed again."""

    valid_days: int = Field(default=14, ge=1, le=365)
    session_minutes: int = Field(default=30, ge=1, le=24 * 60)


# What an evidence file may be, told by its content (filetype's names for the types).
EvidenceType = Literal[
    "jpg",
    "png",
    "gif",
    "webp",
    "heic",
    "pdf",
    "doc",
    "docx",
    "xls",
    "xlsx",
    "ppt",
    "pptx",
    "mp3",
    "m4a",
    "wav",
    "amr",
    "ogg",
]


class EvidenceFiles(StrictModel):
    """Evidence files: the size of one, of all of a case's together, and the types accepted."""

    max_file_mb: int = Field(default=20, ge=1, le=1024)
    max_case_mb: int = Field(default=100, ge=1, le=100_000)
    allowed: list[EvidenceType] = Field(
        default_factory=lambda: list(get_args(EvidenceType)), min_length=1
    )

    @model_validator(mode="after")
    def _file_fits_case(self) -> EvidenceFiles:
        if self.max_file_mb > self.max_case_mb:
            raise ValueError("evidence.max_file_mb: larger than max_case_mb")
        return self


class Papers(StrictModel):
    """The formal papers of a case: the decision notice (处理决定书) and the case file (案卷)."""

    notice_prefix: str = Field(
        default="清风决",
        min_length=1,
        max_length=12,
        description="The notice number's prefix: <prefix>〔<year>〕<n>号.",
    )
    basis: Label = Field(
        default=Label.model_validate(
            {"zh-CN": "《学生会工作人员管理办法》", "en": "the Rules for Student-Union Staff"}
        ),
        description="The rule a decision rests on, unless its disposition names its own.",
    )
    appeal_body: Label = Field(
        default=Label.model_validate(
            {"zh-CN": "校团委学生申诉处理工作组", "en": "the committee's appeal panel"}
        ),
        description="Where the subject appeals, as the notice tells them.",
    )
    casefile_roles: list[Role] = Field(
        default_factory=lambda: [Role.SECRETARY],
        description="Who may export a closed case's file, of those who may read it.",
    )


class ConductRecord(StrictModel):
    """Looking up a person's record before appointing them to student-union work (严格选拔)."""

    period_years: int = Field(
        default=3, ge=1, le=10, description="How far back a lookup reaches, in years."
    )
    roles: list[Role] = Field(
        default_factory=lambda: [Role.SECRETARY, Role.ADMIN],
        description="Who may look a person up (each lookup is audited with its purpose).",
    )


class ApiLimits(StrictModel):
    """The staff API's personal access tokens: how often one may call, how long one lasts."""

    per_token_per_minute: int = Field(
        default=600, ge=1, le=1_000_000, description="Requests per token per minute; then 429."
    )
    token_max_age_days: int = Field(
        default=365, ge=1, le=3650, description="Days a token works after it is made."
    )


class Policy(StrictModel):
    version: int = Field(ge=1)
    end_of_day: time
    categories: list[Category] = Field(min_length=1)
    severities: list[Entry] = Field(min_length=1)
    dispositions: list[Disposition] = Field(min_length=1)
    deadlines: Deadlines
    extensions: Extensions = Extensions()
    triage: Triage = Triage()
    subject_view: SubjectView = SubjectView()
    escalation: list[EscalationStep] = Field(min_length=1)
    intake: Intake = Intake()
    reporter_view: ReporterView
    evidence: EvidenceFiles = EvidenceFiles()
    subject_link: SubjectLinks = SubjectLinks()
    papers: Papers = Papers()
    conduct_record: ConductRecord = ConductRecord()
    api: ApiLimits = ApiLimits()

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
        problems = [p for i, step in enumerate(self.escalation) for p in step.problems(i)]
        if problems:
            raise ValueError(problems[0])  # it names its field, so the loader reports it there
        return self

    @cached_property
    def work_style_codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.categories if c.work_style)

    @cached_property
    def category_codes(self) -> frozenset[str]:
        return frozenset(c.code for c in self.categories)

    @cached_property
    def severity_codes(self) -> frozenset[str]:
        return frozenset(s.code for s in self.severities)

    def disposition(self, code: str) -> Disposition | None:
        """The catalogue entry for ``code``, if any."""
        return next((d for d in self.dispositions if d.code == code), None)
