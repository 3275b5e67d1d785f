"""Evidence files: streamed to data_dir/evidence/<case id>/, limited and typed by policy,
hashed by the server, stripped of location on anonymous reports, downloaded by staff only."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image, PngImagePlugin
from sqlmodel import select
from typer.testing import CliRunner

from api.cli.main import app as app_cli
from api.http.app import create_app
from api.http.deps import AppState
from cases.evidence_files import store_file
from cases.people import directory as org
from cases.procedure.commands import Attachment
from cases.procedure.policy import EvidenceFiles
from cases.procedure.vocabulary import Role
from cases.store.db import UnitOfWork
from cases.store.models import AuditEvent, ConductCase, Evidence
from config.settings import get_settings
from tests.conftest import bearer
from tests.helpers import SHA

REPORT = {
    "unit": "cs-su",
    "subject_handle": "2023010001",
    "subject_name": "张三",
    "summary": "学生会干部搞小圈子",
    "details": "在部门内搞小圈子,排斥新成员,安排工作论资排辈。",
    "category": "cliques",
}
GPS, MAKE, MODEL, XMP = 0x8825, 0x010F, 0x0110, b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
MB = 1024 * 1024
cli = CliRunner()
ORG = "code,name_zh,name_en,parent\nleague,校团委,League,\nsu,校学生会,SU,league\n"


def _jpeg_with_gps() -> bytes:
    """A real JPEG carrying a camera (Make, Model), a GPS position and an XMP packet."""
    exif = Image.Exif()
    exif[MAKE], exif[MODEL] = "Canon", "EOS 5D"
    exif[GPS] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 50.0)}
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG", exif=exif, xmp=XMP)
    return out.getvalue()


def _pdf(size: int) -> bytes:
    """A PDF of about ``size`` bytes (its magic bytes, then filler)."""
    head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    return head + b"0" * (size - len(head))


@pytest.fixture
def small(state: AppState) -> AppState:
    """The app state with small evidence limits: 1 MB a file, 2 MB a case."""
    state.policy = state.policy.model_copy(
        update={"evidence": EvidenceFiles(max_file_mb=1, max_case_mb=2)}
    )
    return state


@pytest.fixture
def app(small: AppState) -> Iterator[TestClient]:
    with TestClient(create_app(small)) as test_client:
        yield test_client


def _accepted(app: TestClient, tokens: dict[str, str], **report: Any) -> tuple[str, dict[str, str]]:
    ref = app.post("/reports", json={**REPORT, **report}).json()["reference"]
    inv = bearer(tokens["inv.wang"])
    accepted = app.post(
        f"/cases/{ref}/accept",
        json={"category": "cliques", "severity": "minor", "investigators": ["inv.wang"]},
        headers={**inv, "If-Match": '"1"'},
    )
    assert accepted.status_code == 200, accepted.text
    return ref, {**inv, "If-Match": accepted.headers["ETag"]}


def _upload(
    app: TestClient, ref: str, headers: dict[str, str], content: bytes, name: str, **form: str
) -> Any:
    answer = app.post(
        f"/cases/{ref}/record-evidence",
        data={"description": "现场照片", **form},
        files={"file": (name, content, "application/octet-stream")},
        headers=headers,
    )
    if answer.status_code == 200:
        headers["If-Match"] = answer.headers["ETag"]
    return answer


def _rows(state: AppState) -> list[Evidence]:
    with UnitOfWork(state.db, write=False) as uow:
        return list(uow.session.exec(select(Evidence)))


def _files(state: AppState) -> list[Path]:
    """Every file under data_dir/evidence, temporary ones included."""
    root = state.settings.data_dir / "evidence"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _problem(answer: Any, status: int, field: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["field"] == field


def _evidence_id(app: TestClient, ref: str, headers: dict[str, str]) -> int:
    timeline = app.get(f"/cases/{ref}", headers=headers).json()["timeline"]
    recorded = [e for e in timeline if e["action"] == "case.record_evidence"]
    return int(recorded[-1]["data"]["evidence"])


def test_anonymous_jpeg_is_stored_without_location_or_camera(
    app: TestClient, small: AppState, tokens: dict[str, str]
) -> None:
    ref, inv = _accepted(app, tokens)  # reports are anonymous unless the reporter says not
    sent = _jpeg_with_gps()
    assert Image.open(io.BytesIO(sent)).getexif().get_ifd(GPS)  # the test file has a position
    answer = _upload(app, ref, inv, sent, "IMG_0001.jpg", sha256=hashlib.sha256(sent).hexdigest())
    assert answer.status_code == 200, answer.text
    [row] = _rows(small)
    [path] = _files(small)
    stored = path.read_bytes()
    assert path.parent.name == str(row.case_id) and path.name == row.stored_name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert row.original_sha256 == hashlib.sha256(sent).hexdigest()
    assert row.sha256 == hashlib.sha256(stored).hexdigest() != row.original_sha256
    assert (row.media_type, row.size_bytes, row.filename) == (
        "image/jpeg",
        len(stored),
        "IMG_0001.jpg",
    )
    with Image.open(path) as image:
        exif = image.getexif()
        assert not exif.get_ifd(GPS) and MAKE not in exif and MODEL not in exif
        assert "xmp" not in image.info and "exif" not in image.info
        assert image.size == (64, 48)
    assert b"Canon" not in stored and b"xmpmeta" not in stored


def test_named_report_keeps_the_file_as_sent(
    app: TestClient, small: AppState, tokens: dict[str, str]
) -> None:
    ref, inv = _accepted(app, tokens, anonymous=False, reporter_name="钱同学")
    sent = _jpeg_with_gps()
    assert _upload(app, ref, inv, sent, "IMG_0002.jpg").status_code == 200
    [row] = _rows(small)
    assert row.sha256 == row.original_sha256 == hashlib.sha256(sent).hexdigest()
    assert _files(small)[0].read_bytes() == sent


def test_a_wrong_sha256_is_422_and_nothing_is_kept(
    app: TestClient, small: AppState, tokens: dict[str, str]
) -> None:
    ref, inv = _accepted(app, tokens)
    _problem(_upload(app, ref, inv, _pdf(2000), "a.pdf", sha256=SHA), 422, "sha256")
    assert _rows(small) == [] and _files(small) == []


def test_over_the_file_limit_is_413_and_nothing_is_kept(
    app: TestClient, small: AppState, tokens: dict[str, str]
) -> None:
    ref, inv = _accepted(app, tokens)
    _problem(_upload(app, ref, inv, _pdf(MB + 1), "big.pdf"), 413, "file")
    assert _rows(small) == [] and _files(small) == []
    assert _upload(app, ref, inv, _pdf(MB), "just.pdf").status_code == 200  # the limit itself


def test_over_the_case_limit_is_413_and_nothing_is_kept(
    app: TestClient, small: AppState, tokens: dict[str, str]
) -> None:
    ref, inv = _accepted(app, tokens)
    for name in ("one.pdf", "two.pdf"):
        assert _upload(app, ref, inv, _pdf(MB - 1000), name).status_code == 200
    kept = _files(small)
    _problem(_upload(app, ref, inv, _pdf(2001), "three.pdf"), 413, "file")
    assert len(_rows(small)) == 2 and _files(small) == kept
    other, inv2 = _accepted(app, tokens, subject_handle="2023010002", subject_name="李四")
    assert _upload(app, other, inv2, _pdf(2001), "three.pdf").status_code == 200  # per case


@pytest.mark.parametrize(
    "content",
    [
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(200),  # a Windows .exe
        "zip",
        b"just some text that claims to be a photo",
    ],
    ids=["exe", "zip", "text"],
)
def test_content_not_allowed_is_415_whatever_the_name(
    app: TestClient, small: AppState, tokens: dict[str, str], content: bytes | str
) -> None:
    if content == "zip":
        packed = io.BytesIO()
        with zipfile.ZipFile(packed, "w") as archive:
            archive.writestr("payload.bin", b"x" * 100)
        content = packed.getvalue()
    assert isinstance(content, bytes)
    ref, inv = _accepted(app, tokens)
    _problem(_upload(app, ref, inv, content, "photo.jpg"), 415, "file")
    assert _rows(small) == [] and _files(small) == []


def test_download_is_audited_and_staff_only(
    app: TestClient, small: AppState, tokens: dict[str, str]
) -> None:
    ref, inv = _accepted(app, tokens)
    sent = _pdf(5000)
    assert _upload(app, ref, inv, sent, "笔录.pdf").status_code == 200
    item = _evidence_id(app, ref, inv)
    url = f"/cases/{ref}/evidence/{item}/file"
    got = app.get(url, headers=bearer(tokens["sec.li"]))
    assert got.status_code == 200 and got.content == sent
    assert got.headers["content-type"] == "application/pdf"
    assert "attachment" in got.headers["content-disposition"]
    with UnitOfWork(small.db, write=False) as uow:
        events = uow.session.exec(
            select(AuditEvent).where(AuditEvent.action == "evidence.downloaded")
        ).all()
    assert [(e.case_id, json.loads(e.data)["evidence"]) for e in events] == [
        (_rows(small)[0].case_id, item)
    ]
    _, subject = org.create_token(uow=UnitOfWork(small.db), handle="2023010001", name="t")
    assert app.get(f"/cases/{ref}", headers=bearer(subject)).status_code == 200  # sees the case
    _problem(app.get(url, headers=bearer(subject)), 404, "evidence_id")  # but not its files
    org.add_person(
        uow=UnitOfWork(small.db),
        handle="inv.law",
        name="法学院调查员",
        unit="law-su",
        roles=[(Role.INVESTIGATOR, "law-su")],
    )
    _, outside = org.create_token(uow=UnitOfWork(small.db), handle="inv.law", name="t")
    _problem(app.get(url, headers=bearer(outside)), 404, "reference")
    _problem(app.get(f"/cases/{ref}/evidence/{item + 1}/file", headers=inv), 404, "evidence_id")


def test_json_without_a_file_still_records_an_item(
    app: TestClient, small: AppState, tokens: dict[str, str]
) -> None:
    ref, inv = _accepted(app, tokens)
    answer = app.post(
        f"/cases/{ref}/record-evidence",
        json={"description": "签到表原件(纸质,存档)", "sha256": SHA},
        headers=inv,
    )
    assert answer.status_code == 200, answer.text
    [row] = _rows(small)
    assert (row.sha256, row.stored_name, row.size_bytes) == (SHA, None, None)
    assert _files(small) == []
    item = _evidence_id(app, ref, inv)
    _problem(app.get(f"/cases/{ref}/evidence/{item}/file", headers=inv), 404, "evidence_id")
    missing = app.post(
        f"/cases/{ref}/record-evidence",
        json={"description": "无哈希"},
        headers={**inv, "If-Match": answer.headers["ETag"]},
    )
    _problem(missing, 422, "sha256")


@pytest.mark.parametrize("commits", [True, False])
def test_a_stored_file_stays_only_if_its_transaction_commits(
    app: TestClient, small: AppState, tokens: dict[str, str], commits: bool
) -> None:
    app.post("/reports", json=REPORT).raise_for_status()
    attachment = Attachment(io.BytesIO(_pdf(3000)), small.settings.data_dir / "evidence")
    fails = pytest.raises(RuntimeError) if not commits else contextlib.nullcontext()
    with fails, UnitOfWork(small.db) as uow:
        case = uow.session.exec(select(ConductCase)).one()
        store_file(uow.session, case, small.policy.evidence, attachment, claimed_sha256=None)
        assert len(_files(small)) == 1
        if not commits:
            raise RuntimeError("after the file was stored, before the commit")
        uow.commit()
    assert len(_files(small)) == (1 if commits else 0)


def test_anonymous_png_loses_its_exif_and_xmp(
    app: TestClient, small: AppState, tokens: dict[str, str]
) -> None:
    exif = Image.Exif()
    exif[MAKE], exif[GPS] = "Canon", {1: "N", 2: (39.0, 54.0, 27.0)}
    text = PngImagePlugin.PngInfo()
    text.add_text("XML:com.adobe.xmp", XMP.decode())
    out = io.BytesIO()
    Image.new("RGBA", (16, 16), (0, 0, 255, 128)).save(out, "PNG", exif=exif, pnginfo=text)
    ref, inv = _accepted(app, tokens)
    assert _upload(app, ref, inv, out.getvalue(), "screen.png").status_code == 200
    [path] = _files(small)
    with Image.open(path) as image:
        assert not image.getexif() and not image.info and image.mode == "RGBA"
    assert b"Canon" not in path.read_bytes() and b"xmpmeta" not in path.read_bytes()


def test_anonymous_heic_from_a_phone_loses_its_location_and_camera(
    app: TestClient, small: AppState, tokens: dict[str, str]
) -> None:
    exif = Image.Exif()
    exif[MAKE], exif[MODEL] = "Apple", "iPhone 15"
    exif[GPS] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 50.0)}
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(out, "HEIF", exif=exif)
    with Image.open(io.BytesIO(out.getvalue())) as sent:
        assert GPS in sent.getexif()  # the photo as the phone made it
    ref, inv = _accepted(app, tokens)
    assert _upload(app, ref, inv, out.getvalue(), "IMG_0001.HEIC").status_code == 200
    [path] = _files(small)
    [row] = _rows(small)
    with Image.open(path) as image:
        assert image.format == "HEIF" and not image.getexif() and image.size == (64, 48)
    assert b"iPhone" not in path.read_bytes() and row.media_type == "image/heic"
    assert row.original_sha256 == hashlib.sha256(out.getvalue()).hexdigest() != row.sha256


def _cli(*args: str) -> tuple[int, str]:
    result = cli.invoke(app_cli, list(args))
    return result.exit_code, result.output


def test_cli_records_evidence_with_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QINGFENG_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("QINGFENG_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        units = tmp_path / "org.csv"
        units.write_text(ORG, "utf-8")
        photo = tmp_path / "IMG_0003.jpg"
        photo.write_bytes(_jpeg_with_gps())
        assert _cli("migrate")[0] == _cli("units", "import", str(units))[0] == 0
        staff = ("--name", "甲", "--unit", "league", "--role", "investigator@league")
        assert _cli("users", "add", "inv.a", *staff)[0] == 0
        report = {"unit": "su", "subject_handle": "s1", "subject_name": "乙"}
        code, out = _cli(
            "cases", "file", "--data", json.dumps({**report, "summary": "s", "details": "d"})
        )
        act = ("cases", "act", out.split()[0])
        accept = json.dumps({"category": "other", "severity": "minor", "investigators": ["inv.a"]})
        code, out = _cli(*act, "accept", "--as", "inv.a", "--data", accept, "--file", str(photo))
        assert code == 2 and "only record_evidence takes a file" in out
        code, out = _cli(*act, "accept", "--as", "inv.a", "--data", accept)
        assert code == 0, out
        evidence = json.dumps({"description": "照片"})
        code, out = _cli(
            *act, "record_evidence", "--as", "inv.a", "--data", evidence, "--file", str(photo)
        )
        assert code == 0, out
        [stored] = [p for p in (tmp_path / "evidence").rglob("*") if p.is_file()]
        assert b"Canon" not in stored.read_bytes()  # filed through the CLI: anonymous
    finally:
        get_settings.cache_clear()
