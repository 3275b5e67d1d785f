"""Every notice renders in both languages; a missing or unknown variable is an error."""

from __future__ import annotations

import pytest
from jinja2 import meta

from cases.notices import DEADLINE_NOTICES, NOTICES
from notifications.catalogue import COMMON, LANGUAGES, VARIABLES
from notifications.render import TEMPLATES, TemplateError, _environment, render

SAMPLE = {
    "recipient_name": "李老师",
    "reference": "QF-2026-00042",
    "unit": "计算机学院学生会",
    "stage": "调查",
    "event_time": "2026-11-25 10:00",
    "due": "2026-12-09 17:30",
    "portal_url": "https://qingfeng.example/track",
    "receipt_code": "ABCD-EFGH-JKMN-PQRS",
    "reason": "不属于受理范围",
    "capacity": "调查人",
    "statement_due": "2026-11-30 17:30",
    "returns": 2,
    "decision": "警告",
    "appeal_ends": "2026-12-15 17:30",
    "step_label": "一级督办",
    "red_flag": True,
    "overdue_since": "2026-12-08 18:00",
    "due_on": "2026-12-20",
    "granted": True,
    "outcome": "警告",
    "survey_url": "https://qingfeng.example/survey",
    "status_url": "https://qingfeng.example/status",
}


def _context(notice: str) -> dict[str, object]:
    return {name: SAMPLE[name] for name in COMMON | VARIABLES[notice]}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("notice", sorted(VARIABLES))
def test_every_notice_renders_in_both_languages(notice: str, language: str) -> None:
    text = render(notice, language, _context(notice))
    assert SAMPLE["reference"] in text.subject
    assert SAMPLE["recipient_name"] in text.body
    assert "\n" not in text.subject and text.body.strip()
    wording = text.subject + text.body
    for value in sorted(
        map(str, SAMPLE.values()), key=len, reverse=True
    ):  # the template's own words, without the sample values
        wording = wording.replace(str(value), "")
    chinese = any("\u4e00" <= ch <= "\u9fff" for ch in wording)
    assert chinese is (language == "zh-CN")
    for name in VARIABLES[notice] - {"red_flag", "granted"}:
        assert str(SAMPLE[name]) in text.subject + text.body, f"{name} not shown"


@pytest.mark.parametrize("language", LANGUAGES)
def test_templates_use_only_their_declared_variables(language: str) -> None:
    env = _environment()
    for notice, declared in VARIABLES.items():
        source = (TEMPLATES / language / f"{notice}.j2").read_text(encoding="utf-8")
        used = meta.find_undeclared_variables(env.parse(source))
        assert used <= COMMON | declared, f"{language}/{notice} uses {used - COMMON - declared}"


def test_a_missing_variable_is_an_error_not_a_blank() -> None:
    context = _context("decision_notice")
    del context["appeal_ends"]
    with pytest.raises(TemplateError, match="appeal_ends"):
        render("decision_notice", "zh-CN", context)


def test_an_undeclared_name_in_a_template_fails_to_render() -> None:
    template = _environment().from_string("{% block subject %}{{ nobody_set_this }}{% endblock %}")
    with pytest.raises(Exception, match="nobody_set_this"):
        "".join(template.blocks["subject"](template.new_context({})))


def test_receipt_code_shows_only_when_given() -> None:
    with_code = render("report_received", "en", _context("report_received"))
    without = render("report_received", "en", {**_context("report_received"), "receipt_code": None})
    assert "ABCD-EFGH-JKMN-PQRS" in with_code.body
    assert "ABCD-EFGH-JKMN-PQRS" not in without.body and "receipt code" not in without.body


def test_every_notice_the_engine_sends_has_templates() -> None:
    sent = {n for audiences in NOTICES.values() for n in audiences.values()}
    sent |= {*DEADLINE_NOTICES, "escalation"}
    assert sent == set(VARIABLES)
    for language in LANGUAGES:
        assert {p.stem for p in (TEMPLATES / language).glob("*.j2")} == set(VARIABLES)


def test_an_unknown_language_falls_back_to_chinese() -> None:
    assert render("accepted", "fr", _context("accepted")).subject.endswith("已受理")
