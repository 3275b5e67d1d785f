"""The case file (案卷) of a closed case: a PDF with every part, the evidence files, the
audit-chain segment and a signed manifest in one zip; checked offline, byte for byte."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import stat
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import col, select
from typer.testing import CliRunner

from api.cli.main import app as app_cli
from api.http.app import create_app
from api.http.deps import AppState
from cases import audit
from cases.demo import seed_organisation
from cases.evidence_files import evidence_store
from cases.papers.casefile import export_casefile
from cases.papers.casefile_zip import (
    KEY_FILE,
    Header,
    audit_segment,
    build_archive,
    signing_key,
    verify_archive,
)
from cases.people import directory as org
from cases.procedure import commands as c
from cases.procedure.clock import utcnow
from cases.procedure.commands import Attachment
from cases.procedure.errors import GuardFailed
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import Role, Stage
from cases.service import file_report
from cases.store.db import Database, UnitOfWork
from cases.store.models import AuditEvent, Evidence, Person
from config.settings import Settings, get_settings
from tests.conftest import bearer
from tests.helpers import SHA, act, carry_to

CONTACT = "13912345678"
REPORTER_FILE = "王小明的举报截图.png"  # names its (anonymous) sender
ARTIFACTS = Path(__file__).parent / "artifacts"
PARTS = [
    "一、举报内容",
    "二、当事人及办案人员",
    "三、证据清单",
    "四、陈述申辩与谈话记录",
    "五、调查结论",
    "六、核实",
    "七、处理决定",
    "八、签署",
    "九、申诉",
    "十、全程记录",
    "十一、完整性",
]
cli = CliRunner()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 120, 200)).save(out, "PNG")
    return out.getvalue()


def _minutes() -> bytes:
    return b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"1" * 3000


def _filed(state: AppState) -> str:
    """An anonymous report with a contact and a picture whose name gives its sender away."""
    attachment = Attachment(io.BytesIO(_png()), evidence_store(state.settings.data_dir))
    return file_report(
        uow=UnitOfWork(state.db),
        policy=state.policy,
        report=c.FileReport(
            unit="cs-su",
            subject_handle="2023010001",
            subject_name="张三",
            summary="学生会干部搞小圈子",
            details="在部门内搞小圈子，排斥新成员。",
            anonymous=True,
            reporter_contact=CONTACT,
        ),
        reporter=None,
        receipt_code="ABCD-EFGH-JKMN-PQRS",
        files=[(REPORTER_FILE, attachment)],
    ).reference


@pytest.fixture
def closed(state: AppState, people: dict[str, Person]) -> str:
    return _closed_case(state, people)


def _closed_case(state: AppState, people: dict[str, Person]) -> str:
    """A closed case with two stored evidence files and one item registered by hash."""
    ref = _filed(state)
    carry_to(state, people, ref, Stage.INVESTIGATION)
    minutes = Attachment(io.BytesIO(_minutes()), evidence_store(state.settings.data_dir))
    command = c.RecordEvidence(description="部门会议记录", filename="会议记录.pdf")
    act(state, people, ref, "inv.wang", command.with_file(minutes))
    carry_to(state, people, ref, Stage.CLOSED)
    return ref


def _export(state: AppState, people: dict[str, Person], ref: str, handle: str = "sec.li") -> bytes:
    return export_casefile(
        uow=UnitOfWork(state.db),
        policy=state.policy,
        actor=people[handle],
        reference=ref,
        data_dir=state.settings.data_dir,
        committee=state.settings.committee_name,
        now=utcnow() + timedelta(days=41),
    )


def _members(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return {name: opened.read(name) for name in opened.namelist()}


def _zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "casefile.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


@dataclass(frozen=True)
class World:
    state: AppState
    tokens: dict[str, str]
    people: dict[str, Person]
    ref: str
    archive: bytes


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, policy: Policy, template_db: Path
) -> Iterator[World]:
    """A closed case, exported once for the module: setting the CJK PDF takes seconds."""
    where = tmp_path_factory.mktemp("casefile")
    shutil.copyfile(template_db, where / "qingfeng.db")
    settings = Settings(data_dir=where, database_url=f"sqlite:///{where / 'qingfeng.db'}")
    db = Database(settings.effective_database_url, pool_size=8)
    state = AppState(settings=settings, policy=policy, db=db, secret=b"test-secret")
    tokens = seed_organisation(UnitOfWork(db))
    with UnitOfWork(db, write=False) as uow:
        people = {p.handle: p for p in uow.session.exec(select(Person))}
    ref = _closed_case(state, people)
    yield World(state, tokens, people, ref, _export(state, people, ref))
    db.dispose()


def _chain_events(state: AppState, chain: str, up_to: int) -> list[AuditEvent]:
    with UnitOfWork(state.db, write=False) as uow:
        query = select(AuditEvent).where(AuditEvent.chain == chain, AuditEvent.seq <= up_to)
        return list(uow.session.exec(query.order_by(col(AuditEvent.seq))))


def test_the_archive_holds_the_pdf_the_files_the_chain_and_a_manifest_of_their_hashes(
    world: World,
) -> None:
    members = _members(world.archive)
    manifest = json.loads(members["manifest.json"])
    with UnitOfWork(world.state.db, write=False) as uow:
        items = list(uow.session.exec(select(Evidence).order_by(col(Evidence.id))))
    events = _chain_events(world.state, audit.case_chain(items[0].case_id), 10**6)
    reporter_item, _, by_hash = items
    assert by_hash.stored_name is None and by_hash.sha256 == SHA
    assert list(members) == [
        "casefile.pdf",
        f"evidence/1-evidence-{reporter_item.id}.png",  # the reporter's own name is left out
        "evidence/2-会议记录.pdf",
        "audit.jsonl",
        "manifest.json",
        "manifest.sig",
    ]
    assert members["evidence/2-会议记录.pdf"] == _minutes()
    assert hashlib.sha256(members[f"evidence/1-evidence-{reporter_item.id}.png"]).hexdigest() == (
        reporter_item.sha256
    )
    assert manifest["reference"] == world.ref
    assert manifest["exported_by"] == "sec.li"
    assert [m["name"] for m in manifest["members"]] == list(members)[:4]
    for entry in manifest["members"]:
        content = members[entry["name"]]
        assert entry == {
            "name": entry["name"],
            "sha256": hashlib.sha256(content).hexdigest(),
            "size": len(content),
        }
    lines = [json.loads(line) for line in members["audit.jsonl"].decode().splitlines()]
    head = events[len(lines) - 1]  # the chain as stored, up to the export
    assert [(e["seq"], e["hash"]) for e in lines] == [(e.seq, e.hash) for e in events][: len(lines)]
    assert lines[-1]["action"] == head.action == "case.casefile_exported"  # the export is in it
    assert manifest["chain"] == {"name": head.chain, "head_seq": head.seq, "head": head.hash}


def test_the_pdf_has_every_part_and_the_hashes_and_not_the_anonymous_reporter(
    world: World, tmp_path: Path
) -> None:
    members = _members(world.archive)
    text = _pdf_text(members["casefile.pdf"], tmp_path)
    for part in PARTS:
        assert part in text, part
    with UnitOfWork(world.state.db, write=False) as uow:
        hashes = [e.sha256 for e in uow.session.exec(select(Evidence))]
    for digest in hashes:
        assert digest in text, digest
    assert "匿名举报" in text and "张三" in text and "李书记（sec.li）" in text
    assert "警告" in text and "导出案卷" not in text  # the decision; the export comes after
    head = json.loads(members["manifest.json"])["chain"]["head_seq"]
    assert f"第 {head - 1} 条" in text  # the timeline up to the export, which is in audit.jsonl
    for member in ("casefile.pdf", "manifest.json", "audit.jsonl"):
        shown = text if member == "casefile.pdf" else members[member].decode()
        assert CONTACT not in shown and "王小明" not in shown, member
    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "casefile.pdf")], check=True, capture_output=True, text=True
    ).stdout.splitlines()[2:]
    assert fonts and all(" yes " in line for line in fonts)  # every font embedded
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile",
         str(tmp_path / "casefile.pdf"), str(ARTIFACTS / "casefile")],
        check=True,
    )  # fmt: skip


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, world: World) -> Iterator[None]:
    """The CLI's settings: the exporter's data dir (its key), and a database not there."""
    monkeypatch.setenv("QINGFENG_DATA_DIR", str(world.state.settings.data_dir))
    monkeypatch.setenv("QINGFENG_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_verify_passes_offline_against_the_fingerprint_of_the_committee_s_key(
    world: World, tmp_path: Path, offline: None
) -> None:
    exported = world.archive
    key_file = world.state.settings.data_dir / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    printed = cli.invoke(app_cli, ["casefile", "key"])
    assert printed.exit_code == 0, printed.output
    fingerprint = printed.output.strip()
    assert len(fingerprint.replace(" ", "")) == 64
    check = verify_archive(exported, expected_fingerprint=fingerprint)
    assert check.ok, check.problems
    assert check.fingerprint == fingerprint and check.members == 4 and check.events > 10
    path = tmp_path / "casefile.zip"
    path.write_bytes(exported)
    answer = cli.invoke(
        app_cli, ["casefile", "verify", str(path), "--key-fingerprint", fingerprint]
    )
    assert answer.exit_code == 0, answer.output
    assert fingerprint in answer.output and "OK" in answer.output
    other = cli.invoke(app_cli, ["casefile", "verify", str(path), "--key-fingerprint", "ab" * 32])
    assert other.exit_code == 1 and "manifest.sig: signed with key" in other.output


def test_a_changed_byte_in_any_member_is_found_and_named(world: World) -> None:
    members = _members(world.archive)
    assert verify_archive(_zipped(members)).ok  # rezipped unchanged: still good
    for name, content in members.items():
        changed = bytearray(content)
        changed[len(changed) // 2] ^= 0x01
        check = verify_archive(_zipped({**members, name: bytes(changed)}))
        assert not check.ok, name
        assert any(p.startswith(name) or f" {name}" in p for p in check.problems), (
            name,
            check.problems,
        )


def test_a_changed_byte_in_the_archive_itself_is_found(world: World) -> None:
    exported = world.archive
    raw = bytearray(exported)
    with zipfile.ZipFile(io.BytesIO(exported)) as opened:
        info = opened.getinfo("evidence/2-会议记录.pdf")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + info.compress_size // 2] ^= 0x01
    problems = verify_archive(bytes(raw)).problems
    assert any(p.startswith("evidence/2-会议记录.pdf: ") for p in problems), problems


def test_a_missing_or_an_added_member_is_found(world: World, offline: None, tmp_path: Path) -> None:
    members = _members(world.archive)
    for name in members:
        rest = {k: v for k, v in members.items() if k != name}
        problems = verify_archive(_zipped(rest)).problems
        assert f"{name}: missing from the archive" in problems, (name, problems)
    problems = verify_archive(_zipped({**members, "evidence/9-extra.txt": b"x"})).problems
    assert problems == ["evidence/9-extra.txt: in the archive but not in the manifest (added)"]
    path = tmp_path / "added.zip"
    path.write_bytes(_zipped({**members, "evidence/9-extra.txt": b"x"}))
    answer = cli.invoke(app_cli, ["casefile", "verify", str(path)])
    assert answer.exit_code == 1
    assert "BROKEN: evidence/9-extra.txt: in the archive but not in the manifest" in answer.output


def test_an_audit_segment_with_an_event_left_out_breaks_its_chain(world: World) -> None:
    """Even signed with the committee's key, a segment that skips an event does not verify."""
    members = _members(world.archive)
    manifest = json.loads(members["manifest.json"])
    chain = manifest["chain"]
    events = _chain_events(world.state, chain["name"], chain["head_seq"])
    del events[3]
    header = Header(manifest["reference"], chain["name"], chain["head_seq"], chain["head"],
                    utcnow(), "sec.li")  # fmt: skip
    kept = [(n, members[n]) for n in list(members)[:3]] + [("audit.jsonl", audit_segment(events))]
    problems = verify_archive(
        build_archive(kept, header, signing_key(world.state.settings.data_dir))
    ).problems
    assert problems == [
        f"audit.jsonl line 4: is {chain['name']} seq 5, expected {chain['name']} seq 4 "
        "(an event is missing or out of order)",
        "audit.jsonl line 4: does not follow the event before it",
    ]


def test_the_api_exports_for_the_secretary_and_refuses_everyone_else(
    world: World, tmp_path: Path
) -> None:
    state, tokens, closed = world.state, world.tokens, world.ref
    org.add_person(
        uow=UnitOfWork(state.db),
        handle="sec.law",
        name="法学院书记",
        unit="law-su",
        roles=[(Role.SECRETARY, "law-su")],
    )
    _, outside = org.create_token(uow=UnitOfWork(state.db), handle="sec.law", name="t")
    with UnitOfWork(state.db, write=False) as uow:
        before = max(uow.session.exec(select(AuditEvent.id)).all(), key=lambda i: i or 0)
    with TestClient(create_app(state)) as app:
        got = app.get(f"/cases/{closed}/casefile", headers=bearer(tokens["sec.li"]))
        assert got.status_code == 200, got.text
        assert got.headers["content-type"] == "application/zip"
        assert f'filename="{closed}-casefile.zip"' in got.headers["content-disposition"]
        assert verify_archive(got.content).ok
        assert "导出案卷" in _pdf_text(_members(got.content)["casefile.pdf"], tmp_path)  # the 1st
        for token, status, field in ((tokens["inv.wang"], 403, None), (outside, 404, "reference")):
            refused = app.get(f"/cases/{closed}/casefile", headers=bearer(token))
            assert refused.status_code == status, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json().get("field") == field
        open_case = app.post("/reports", json={
            "unit": "cs-su", "subject_handle": "2023010002", "subject_name": "李四",
            "summary": "反映问题", "details": "详细情况",
        }).json()["reference"]  # fmt: skip
        not_yet = app.get(f"/cases/{open_case}/casefile", headers=bearer(tokens["sec.li"]))
        assert not_yet.status_code == 409, not_yet.text
        assert not_yet.json()["field"] == "reference"
    with UnitOfWork(state.db, write=False) as uow:
        rows = uow.session.exec(
            select(AuditEvent, Person)
            .join(Person, col(Person.id) == AuditEvent.actor_id)
            .where(col(AuditEvent.action).in_(["case.casefile_exported", "action.refused"]))
            .where(col(AuditEvent.id) > before)
            .order_by(col(AuditEvent.id))
        ).all()
        assert audit.verify(uow.session).ok
    assert [(e.action, p.handle) for e, p in rows] == [
        ("case.casefile_exported", "sec.li"),
        ("action.refused", "inv.wang"),
        ("action.refused", "sec.li"),
    ]
    assert json.loads(rows[1][0].data)["action"] == "export_casefile"


def test_a_stored_file_changed_on_disk_refuses_the_export(
    state: AppState, people: dict[str, Person], closed: str
) -> None:
    with UnitOfWork(state.db, write=False) as uow:
        item = uow.session.exec(select(Evidence).where(Evidence.filename == "会议记录.pdf")).one()
    path = evidence_store(state.settings.data_dir) / str(item.case_id) / str(item.stored_name)
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(GuardFailed, match=f"evidence {item.id}'s stored file no longer matches"):
        _export(state, people, closed)
    path.unlink()
    with pytest.raises(GuardFailed, match=f"evidence {item.id}'s stored file is missing"):
        _export(state, people, closed)


def test_the_cli_writes_an_owner_only_archive_that_verifies(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = world.ref
    monkeypatch.setenv("QINGFENG_DATA_DIR", str(world.state.settings.data_dir))
    monkeypatch.setenv("QINGFENG_DATABASE_URL", world.state.db.url)
    get_settings.cache_clear()
    try:
        target = tmp_path / "out.zip"
        written = cli.invoke(
            app_cli, ["casefile", "export", closed, "--out", str(target), "--as", "sec.li"]
        )
        assert written.exit_code == 0, written.output
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert verify_archive(target.read_bytes()).ok
        refused = cli.invoke(
            app_cli, ["casefile", "export", closed, "--out", str(target), "--as", "inv.wang"]
        )
        assert refused.exit_code == 2 and "may export a case file" in refused.output
    finally:
        get_settings.cache_clear()
