"""`qingfeng report`: the 述职考评 figures as JSON, CSV, XLSX and PDF, from the known history
of tests/test_metrics.py (built once for the module: it takes seconds), each file checked
against the metrics service's own figures and against the answers known by hand."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import select
from typer.testing import CliRunner

from api.cli.main import app
from api.http.app import create_app
from api.http.deps import AppState
from cases.demo import seed_organisation
from cases.metrics.definitions import Kind
from cases.metrics.events import Period
from cases.metrics.exports.csvfile import csv_bytes
from cases.metrics.exports.period import parse_period, period_name
from cases.metrics.exports.tables import tables
from cases.metrics.service import MetricsReport, Phase, metrics
from cases.procedure.errors import InvalidInput
from cases.procedure.policy import Policy
from cases.store.db import Database, UnitOfWork
from cases.store.models import Person
from config.settings import Settings, get_settings
from tests.conftest import bearer
from tests.test_metrics import MARCH, build

ARTIFACTS = Path(__file__).parent / "artifacts"
runner = CliRunner()


class Built:
    """The history's database, its people and tokens, and the files the CLI wrote of it."""

    def __init__(self, state: AppState, tokens: dict[str, str], where: Path) -> None:
        self.state, self.tokens, self.where = state, tokens, where
        with UnitOfWork(state.db, write=False) as uow:
            self.people = {p.handle: p for p in uow.session.exec(select(Person))}

    def report(self, **scope: Any) -> MetricsReport:
        return metrics(uow=UnitOfWork(self.state.db, write=False), policy=self.state.policy,
                       period=MARCH, viewer=self.people["sec.li"], **scope)  # fmt: skip

    def run(self, *args: str) -> tuple[int, str, str]:
        """Exit code, stdout and everything shown (stdout and stderr)."""
        result = runner.invoke(app, ["report", *args])
        return result.exit_code, result.stdout, result.output


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, template_db: Path, policy: Policy
) -> Iterator[Built]:
    where = tmp_path_factory.mktemp("report")
    shutil.copyfile(template_db, where / "qingfeng.db")
    settings = Settings(data_dir=where, database_url=f"sqlite:///{where / 'qingfeng.db'}")
    db = Database(settings.effective_database_url)
    state = AppState(settings=settings, policy=policy, db=db, secret=b"test-secret")
    tokens = seed_organisation(UnitOfWork(db))
    done = Built(state, tokens, where)
    build(state, done.people)
    with pytest.MonkeyPatch.context() as env:  # the CLI reads the same database
        env.setenv("QINGFENG_DATA_DIR", str(where))
        env.setenv("QINGFENG_DATABASE_URL", settings.effective_database_url)
        get_settings.cache_clear()
        for form in ("json", "csv", "xlsx", "pdf"):
            code, _, output = done.run("--period", "2026-03", "--format", form,
                                       "--out", str(where / f"march.{form}"))  # fmt: skip
            assert code == 0, output
        yield done
    get_settings.cache_clear()
    db.dispose()


def test_periods_as_people_write_them() -> None:
    assert parse_period("2026") == Period(date(2026, 1, 1), date(2026, 12, 31))
    assert parse_period("2026-Q1") == Period(date(2026, 1, 1), date(2026, 3, 31))
    assert parse_period("2026-q4") == Period(date(2026, 10, 1), date(2026, 12, 31))
    assert parse_period("2026-02") == Period(date(2026, 2, 1), date(2026, 2, 28))
    days = parse_period("2026-01-01..2026-06-30")
    assert days == Period(date(2026, 1, 1), date(2026, 6, 30))
    assert [period_name(parse_period(t)) for t in ("2026", "2026-q2", "2026-03")] == [
        "2026", "2026-Q2", "2026-03",
    ]  # fmt: skip
    assert period_name(days) == "2026-01-01..2026-06-30"
    for wrong in ("2026-13", "2026-Q5", "26", "2026-03-01", "2026-02-30..2026-03-01", ""):
        with pytest.raises(InvalidInput) as refused:
            parse_period(wrong)
        assert refused.value.field == "period" and repr(wrong)[1:-1] in refused.value.detail
    with pytest.raises(InvalidInput, match=r"ends \(2026-01-01\) before it begins"):
        parse_period("2026-06-30..2026-01-01")


def test_json_is_the_services_and_the_apis(built: Built) -> None:
    written = json.loads((built.where / "march.json").read_text(encoding="utf-8"))
    assert written == json.loads(built.report().model_dump_json(by_alias=True))
    with TestClient(create_app(built.state)) as client:
        answer = client.get("/performance?from=2026-03-01&to=2026-03-31",
                            headers=bearer(built.tokens["sec.li"]))  # fmt: skip
    assert answer.status_code == 200 and answer.json() == written
    first = written["figures"][0]
    assert (first["code"], first["value"]) == ("reports_received", 10)
    assert first["name"]["zh-CN"] == "收到举报" and first["definition"]["en"]


def _sections(data: bytes) -> dict[str, tuple[list[str], list[list[str]]]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads it as UTF-8
    sections: dict[str, tuple[list[str], list[list[str]]]] = {}
    for block in data.decode("utf-8-sig").split("\r\n\r\n"):
        rows = list(csv.reader(io.StringIO(block)))
        sections[rows[0][0]] = (rows[1], rows[2:])
    return sections


def _number(text: str) -> Any:
    return None if text == "" else float(text)


def test_csv_holds_the_services_numbers(built: Built) -> None:
    sections = _sections((built.where / "march.csv").read_bytes())
    assert list(sections) == [
        "概况", "总体指标", "各环节", "满意度分布", "申诉复查结果", "各单位概况",
        "各单位举报类别", "各单位工作作风", "各单位查实问题", "各单位处理结果", "指标说明",
    ]  # fmt: skip
    report = built.report()
    headers, rows = sections["总体指标"]
    assert headers == ["指标", "代码", "值", "分子", "分母", "定义"]
    by_code = {r[1]: r for r in rows}
    for f in (f for f in report.figures if f.kind in (Kind.COUNT, Kind.RATE, Kind.MEAN)):
        name, _, value, numerator, denominator, meaning = by_code[f.code]
        assert (name, meaning) == (f.name.zh_cn, f.definition.zh_cn)
        v: Any = f.value
        if f.kind is Kind.RATE:
            assert (_number(value), int(numerator), int(denominator)) == (
                v["rate"], v["numerator"], v["denominator"],
            )  # fmt: skip
        else:
            assert _number(value) == v, f.code
    assert by_code["completion_rate"][2:5] == [str(6 / 11), "6", "11"]  # known by hand
    stages = {r[0]: r for r in sections["各环节"][1]}
    assert stages["受理"][1:4] == ["0.7", "7", "10"] and stages["总体"][2:4] == ["26", "29"]
    assert [r[1] for r in sections["满意度分布"][1]] == ["1", "0", "1", "0", "1"]
    _, categories = sections["各单位举报类别"]
    header = sections["各单位举报类别"][0]
    for unit in report.units:
        row = next(r for r in categories if r[1] == unit.unit)
        counts = next(f.value for f in unit.figures if f.code == "reports_by_category")
        assert [int(n) for n in row[2:]] == list(counts.values())  # type: ignore[union-attr]
    cs = next(r for r in categories if r[1] == "cs-su")
    assert cs[header.index("形式主义、官僚主义")] == "2" and cs[header.index("未分类")] == "4"


def test_csv_in_english(built: Built) -> None:
    laid_out = tables(built.report(), policy=built.state.policy, language="en", committee="C")
    sections = _sections(csv_bytes(laid_out))
    assert "Figures" in sections and sections["Stages"][0][0] == "stage"
    assert sections["Figures"][1][0] == ["reports received", "reports_received", "10", "", "",
                                         "Reports filed in the period."]  # fmt: skip


def test_workbook_has_the_sheets_values_and_charts(built: Built) -> None:
    book = load_workbook(built.where / "march.xlsx")
    assert book.sheetnames[:3] == ["概况", "总体指标", "各环节"] and "指标说明" in book.sheetnames
    figures = {row[1]: row for row in book["总体指标"].iter_rows(min_row=2, values_only=True)}
    assert figures["reports_received"][2] == 10
    assert figures["completion_rate"][2:5] == (6 / 11, 6, 11)
    assert figures["completion_rate"][5].startswith("期间内团委负有办理责任的案件")  # definition
    stages = book["各环节"]
    assert [c.value for c in stages["B"][1:6]] == [0.7, 1, 1, 1, 1]
    assert stages["B2"].number_format == "0.0%"
    assert stages["H1"].value == "指标" and stages["H2"].value == "按期完成率"  # beside it
    assert stages["I2"].value.startswith("各工作阶段")
    (chart,) = stages._charts
    assert [s.val.numRef.f for s in chart.series] == ["'各环节'!$B$2:$B$6"]  # not 'overall'
    assert chart.series[0].cat.numRef.f == "'各环节'!$A$2:$A$6"  # the stages
    (chart,) = book["满意度分布"]._charts
    assert chart.series[0].val.numRef.f == "'满意度分布'!$B$2:$B$6"
    assert [c.value for c in book["满意度分布"]["B"][1:]] == [1, 0, 1, 0, 1]
    units = book["各单位举报类别"]
    (chart,) = units._charts
    categories = len(built.state.policy.categories) + 1  # and 'uncategorised'
    assert chart.grouping == "stacked" and len(chart.series) == categories
    assert chart.series[0].val.numRef.f == "'各单位举报类别'!$C$2:$C$3"  # cs-su, law-su
    assert [c.value for c in units["B"][1:3]] == ["cs-su", "law-su"]
    style = book["各单位工作作风"]
    assert [c.value for c in style[2]][:6] == ["计算机学院学生会", "cs-su", 0, 1, 2, 3]
    assert len(style._charts[0].series) == 3  # the three categories, not the total


def _text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout  # fmt: skip


def test_pdf_names_each_figure_with_its_value_in_an_embedded_cjk_font(built: Built) -> None:
    pdf = built.where / "march.pdf"
    text = _text(pdf)
    for words in (
        "共青团某某大学委员会",
        "述职考评指标 2026-03",
        "工作完成率",
        "按期完成率",
        "同学满意度",
        "满意度分布",
        "计算机学院学生会 (cs-su)",
        "法学院学生会 (law-su)",
    ):
        assert words in text, words  # fmt: skip
    assert "54.5% (6/11)" in text  # the committee's completion rate
    assert "55.6% (5/9)" in text and "50.0% (1/2)" in text  # cs-su's, law-su's
    assert "89.7% (26/29)" in text  # on time over every stage
    fonts = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True,
                           text=True).stdout.splitlines()[2:]  # fmt: skip
    cjk = [line.split() for line in fonts if "CJKSC" in line]
    assert cjk and all(row[-5] == "yes" for row in cjk)  # emb
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-singlefile", str(pdf),
                    str(ARTIFACTS / "report-zh")], check=True)  # fmt: skip
    assert (ARTIFACTS / "report-zh.png").stat().st_size > 10_000


def test_the_service_tells_its_progress(built: Built) -> None:
    heard: list[tuple[Phase, int, int]] = []
    built.report(progress=lambda *step: heard.append(step))
    assert heard == [(Phase.READING, 0, 1), (Phase.COMPUTING, 0, 1),
                     (Phase.UNITS, 1, 2), (Phase.UNITS, 2, 2)]  # fmt: skip


def test_cli_errors_name_what_is_wrong_and_write_nothing(built: Built) -> None:
    empty = built.where / "empty"
    empty.mkdir()
    target = str(empty / "r.xlsx")
    for args, words in [
        (("--period", "2026-13"), "period '2026-13'"),
        (("--period", "2026-06-30..2026-01-01"), "ends (2026-01-01) before it begins"),
        (("--period", "2026", "--unit", "nowhere"), "unknown unit 'nowhere' (field: unit)"),
        (("--period", "2026", "--as", "nobody"), "unknown person 'nobody' (field: --as)"),
        (("--period", "2026", "--as", "inv.wang"), "(field: investigator)"),  # not theirs
        (("--period", "2026", "--out", str(empty / "no" / "r.xlsx")), "no such directory"),
        (("--period", "2026", "--format", "pdf", "--out", "-"), "cannot go to stdout"),
    ]:
        code, _, output = built.run("--format", "xlsx", "--out", target, *args)
        assert code != 0 and words in " ".join(output.split()), (args, output)
        assert list(empty.iterdir()) == [], args
    (empty / "taken").mkdir()  # renaming over a directory fails: the temporary file goes
    code, _, output = built.run(
        "--period", "2026", "--format", "csv", "--out", str(empty / "taken")
    )
    assert code != 0 and "--out" in output
    assert [p.name for p in empty.iterdir()] == ["taken"]


def test_cli_as_an_investigator_and_to_stdout(built: Built) -> None:
    mine = ("--investigator", "inv.zhao", "--as", "inv.zhao")
    code, stdout, output = built.run("--period", "2026-03", *mine, "--format", "json", "--out", "-")
    assert code == 0, output
    body = json.loads(stdout)
    assert body["investigator"] == "inv.zhao" and body["figures"][0]["value"] == 3
