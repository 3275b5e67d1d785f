"""The policy file: the default is valid; a broken one names file, field and reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from api.cli.main import app
from cases.files import load_policy
from cases.procedure.policy import PolicyError
from cases.procedure.vocabulary import Stage
from config.settings import DEFAULT_POLICY_FILE


def _write(tmp_path: Path, change: dict[str, object] | None = None, raw: str | None = None) -> Path:
    data = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    data.update(change or {})
    path = tmp_path / "policy.yaml"
    path.write_text(
        raw if raw is not None else yaml.safe_dump(data, allow_unicode=True), encoding="utf-8"
    )
    return path


def _refused(tmp_path: Path, change: dict[str, object], field: str, reason: str) -> Path:
    """Write the default policy with ``change``; loading it names file, field and reason."""
    path = _write(tmp_path, change)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert str(path) in message and field in message and reason in message, message
    return path


def test_default_policy_is_valid_and_bilingual() -> None:
    policy = load_policy(DEFAULT_POLICY_FILE)
    assert policy.deadlines.investigation.for_severity("grave") == 20
    assert policy.deadlines.investigation.for_severity("minor") == 10
    removal = policy.disposition("removal")
    assert removal and removal.requires_cosign and removal.label.text("en") == "Removal from post"
    assert policy.disposition("criticism").label.text("zh-CN") == "批评教育"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"deadlines": {"intake": 0}}, "deadlines", "greater than or equal to 1"),
        ({"categories": []}, "field categories", "at least 1"),
        (
            {"severities": [{"code": "minor", "label": {"en": "Minor"}}]},
            "field severities.0.label.zh-CN",
            "Field required",
        ),
        (
            {
                "dispositions": [
                    {"code": "a", "label": {"zh-CN": "甲", "en": "A"}},
                    {"code": "a", "label": {"zh-CN": "乙", "en": "B"}},
                ]
            },
            "field dispositions",
            "duplicate code 'a'",
        ),
        (
            {"escalation": [{"step": "late", "offset_working_days": 2, "notify": ["dean"]}]},
            "field escalation.0.notify.0",
            "Input should be",
        ),
    ],
)
def test_broken_policy_names_file_field_and_reason(
    tmp_path: Path, change: dict[str, object], field: str, reason: str
) -> None:
    _refused(tmp_path, change, field, reason)


def _ladder(index: int, **changes: object) -> dict[str, object]:
    """The default ladder with step ``index`` changed (a value of None removes the key)."""
    data = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    ladder = data["escalation"]
    ladder[index] = {k: v for k, v in {**ladder[index], **changes}.items() if v is not None}
    return {"escalation": ladder}


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (
            _ladder(0, notify_in=None),  # the reminder tells `assignees` at intake too
            "field escalation.0.notify:",
            "'assignees' is nobody in intake (nobody is assigned to a case before it is "
            "accepted), so the reminder step would reach nobody there",
        ),
        (
            _ladder(1, notify_in={"intake": ["assignees", "secretary"]}),
            "field escalation.1.notify_in.intake:",
            "'assignees' is nobody in intake",
        ),
        (
            _ladder(0, notify_in={"appeal_window": ["secretary"]}),
            "field escalation.0.notify_in:",
            "appeal_window has no ladder",
        ),
        (_ladder(2, label=None), "field escalation.2.label", "Field required"),
        (_ladder(3, step="close"), "field escalation.3.step:", "the appeal window's own step"),
        (_ladder(2, notify=["subject"]), "field escalation.2.notify.0", "Input should be"),
    ],
)
def test_a_ladder_that_would_reach_nobody_or_show_codes_is_refused(
    tmp_path: Path, change: dict[str, object], field: str, reason: str
) -> None:
    path = _refused(tmp_path, change, field, reason)
    result = CliRunner().invoke(app, ["policy", "check", str(path)])
    said = " ".join(result.output.split())  # the console wraps long lines
    assert result.exit_code == 2 and field in said and " ".join(reason.split()) in said


def test_each_ladder_step_tells_someone_in_each_stage() -> None:
    policy = load_policy(DEFAULT_POLICY_FILE)
    reminder, overdue = policy.escalation[0], policy.escalation[1]
    assert reminder.audiences(Stage.INTAKE) == ["triagers"]
    assert reminder.audiences(Stage.INVESTIGATION) == ["assignees"]
    assert overdue.audiences(Stage.INTAKE) == ["triagers"]
    assert overdue.audiences(Stage.VERIFICATION) == ["assignees", "secretary"]
    assert [s.label.text("zh-CN") for s in policy.escalation][2:] == [
        "一级督办",
        "二级督办（红色）",
    ]


def test_unknown_severity_override_is_named(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    data["deadlines"]["investigation"] = {"working_days": 10, "by_severity": {"gravee": 20}}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(
        PolicyError, match=r"deadlines\.investigation\.by_severity: unknown severity"
    ):
        load_policy(path)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, raw="version: 1\ncategories: [\n  - code: x\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert f"{path}:" in str(caught.value) and "not valid YAML" in str(caught.value)


def test_service_refuses_to_start_on_a_broken_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config.settings import get_settings

    path = _write(tmp_path, {"severities": "grave"})
    monkeypatch.setenv("QINGFENG_POLICY_FILE", str(path))
    monkeypatch.setenv("QINGFENG_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["up"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert str(path) in result.output and "severities" in result.output
