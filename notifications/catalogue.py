"""Every notice, the variables its templates receive, and the labels they quote.

A template may use only its notice's variables (Jinja's StrictUndefined makes any other
name an error), and the context builder must supply every one of them, so a missing
variable fails loudly instead of rendering as a blank.
"""

from __future__ import annotations

from cases.procedure.labels import LANGUAGES, STAGES

COMMON = frozenset(
    {"recipient_name", "reference", "unit", "stage", "event_time", "due", "portal_url"}
)

# fmt: off
VARIABLES: dict[str, frozenset[str]] = {
    "report_received":     frozenset({"receipt_code"}),
    "accepted":            frozenset(),
    "declined":            frozenset({"reason"}),
    "assigned":            frozenset({"capacity"}),
    "statement_requested": frozenset({"statement_due"}),
    "findings_submitted":  frozenset(),
    "findings_returned":   frozenset({"returns"}),
    "findings_confirmed":  frozenset(),
    "signoff_requested":   frozenset({"decision"}),
    "proposal_refused":    frozenset(),
    "decision_notice":     frozenset({"decision", "appeal_ends"}),
    "appeal_lodged":       frozenset(),
    "reminder":            frozenset(),
    "overdue":             frozenset({"overdue_since"}),
    "escalation":          frozenset({"step_label", "red_flag", "overdue_since"}),
    "extension_requested": frozenset({"due_on"}),
    "extension_decided":   frozenset({"granted", "due_on"}),
    "deadline_recomputed": frozenset({"due_on"}),
    "closed":              frozenset({"outcome"}),
    "survey_invitation":   frozenset({"outcome", "survey_url"}),
    "reporter_message":    frozenset(),
    "reporter_evidence":   frozenset(),
    "team_message":        frozenset({"status_url"}),
}

# The notices' own words; a stage's name is the procedure's (``STAGES``), said once there.
_WORDS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "investigator": "调查人", "verifier": "核实人", "advisor": "签署指导教师",
        "appeal_reviewer": "申诉复查人",
        "out_of_scope": "不属于受理范围", "duplicate": "与已有案件重复",
        "insufficient_information": "反映内容不足以开展调查",
        "no_sanction": "不予处分", "reporter": "同学", "none": "—",
    },
    "en": {
        "investigator": "investigator", "verifier": "verifier", "advisor": "signing advisor",
        "appeal_reviewer": "appeal reviewer",
        "out_of_scope": "outside what the committee handles",
        "duplicate": "a duplicate of an existing case",
        "insufficient_information": "not enough information to investigate",
        "no_sanction": "no sanction", "reporter": "reporter", "none": "—",
    },
}
# fmt: on
LABELS: dict[str, dict[str, str]] = {
    language: {stage.value: words.text(language) for stage, words in STAGES.items()}
    | _WORDS[language]
    for language in LANGUAGES
}
DEFAULT_LANGUAGE = "zh-CN"


def language_of(requested: str | None) -> str:
    """A language we have templates in: the one asked for, else zh-CN."""
    return requested if requested in LABELS else DEFAULT_LANGUAGE


def label(language: str, code: str) -> str:
    """The label of ``code`` in ``language`` (the code itself when there is none)."""
    return LABELS[language_of(language)].get(code, code)
