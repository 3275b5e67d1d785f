"""The command line, on a real SQLite file: org import, people, demo, show, act."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from config.settings import get_settings

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("QINGFENG_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("QINGFENG_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    yield tmp_path
    get_settings.cache_clear()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_units_import_csv_then_people_and_a_case(data_dir: Path) -> None:
    org = data_dir / "org.csv"
    org.write_text(
        "code,name_zh,name_en,parent\nleague,校团委,League,\nsu,校学生会,Student Union,league\n",
        encoding="utf-8",
    )
    assert _run("units", "import", str(org)) == (0, "2 units read, 2 new\n")
    code, out = _run(
        "users",
        "add",
        "inv.a",
        "--name",
        "调查员甲",
        "--unit",
        "league",
        "--role",
        "investigator@league",
        "--token",
    )
    assert code == 0 and "token (shown once): qf_" in out
    code, out = _run(
        "cases",
        "file",
        "--data",
        '{"unit": "su", "subject_handle": "s1", '
        '"subject_name": "乙", "summary": "s", "details": "d"}',
    )
    assert code == 0 and "QF-" in out
    reference = out.split()[0]
    code, out = _run(
        "cases",
        "act",
        reference,
        "accept",
        "--as",
        "inv.a",
        "--data",
        '{"category": "other", "severity": "minor", "investigators": ["inv.a"]}',
    )
    assert code == 0 and "stage=investigation version=2" in out
    code, out = _run("cases", "show", reference, "--as", "inv.a")
    assert code == 0 and "case.accept" in out and "inv.a" in out
    assert _run("audit", "verify")[0] == 0


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "org.csv",
            "code,name_zh,name_en,parent\nleague,校团委,League,\nsu,,SU,league\n",
            "org.csv:3: missing name_zh",
        ),
        (
            "org.csv",
            "code,name_zh,name_en,parent\nsu,校学生会,SU,nowhere\n",
            "org.csv:2: parent 'nowhere' of unit 'su' is not defined",
        ),
        (
            "org.yaml",
            "- code: league\n  name_zh: 校团委\n  name_en: League\n"
            "- code: league\n  name_zh: 又\n  name_en: Again\n",
            "org.yaml:4: unit 'league' already defined at",
        ),
        (
            "org.yaml",
            "- code: a\n  name_zh: 甲\n  name_en: A\n  parent: b\n"
            "- code: b\n  name_zh: 乙\n  name_en: B\n  parent: a\n",
            "is its own ancestor",
        ),
        ("org.yaml", "- code: [\n", "org.yaml:2: not valid YAML"),
    ],
)
def test_bad_org_file_names_file_and_line_and_imports_nothing(
    data_dir: Path, name: str, content: str, expected: str
) -> None:
    path = data_dir / name
    path.write_text(content, encoding="utf-8")
    code, out = _run("units", "import", str(path))
    assert code == 2
    assert expected in " ".join(out.split()), out
    good = data_dir / "good.csv"
    good.write_text("code,name_zh,name_en,parent\nx,甲,X,\n", encoding="utf-8")
    assert _run("units", "import", str(good))[1] == "1 units read, 1 new\n"  # nothing half-done


def test_users_add_rejects_unknown_role_and_unit(data_dir: Path) -> None:
    code, out = _run("users", "add", "x", "--name", "X", "--role", "boss@league")
    assert code == 2 and "role must be one of" in out
    code, out = _run("users", "add", "x", "--name", "X", "--role", "investigator@nowhere")
    assert code == 2 and "unknown unit 'nowhere'" in out


def test_demo_builds_a_case_in_every_stage(data_dir: Path) -> None:
    code, out = _run("demo", "--cases", "7")
    assert code == 0
    for stage in (
        "intake",
        "investigation",
        "verification",
        "disposition",
        "appeal_window",
        "appeal_review",
        "closed",
    ):
        assert f"{stage}=QF-" in " ".join(out.split())
    assert _run("audit", "verify")[0] == 0
    code, out = _run("demo")  # the second time it refuses instead of doubling people
    assert code == 2 and "already exists" in out


def test_policy_check(data_dir: Path) -> None:
    code, out = _run("policy", "check")
    assert code == 0 and "OK" in out
    broken = data_dir / "p.yaml"
    broken.write_text("version: 0\n", encoding="utf-8")
    code, out = _run("policy", "check", str(broken))
    assert code == 2 and "field version" in out
