"""No personal data in logs (issue 18, item 8): a report's life through `qingfeng up` (the
API, the notifier child, the deadline worker, the audit checkpointer), its pages included,
and every line any of those processes wrote holds no name, handle, contact, receipt code,
link token or personal access token of the people involved.

Orchestration is off here (Prefect's start alone takes minutes on a loaded machine): the
runner's and the Prefect server's logs are not read by this test.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from cases.demo import seed_organisation
from cases.people.directory import add_person
from cases.procedure.clock import utcnow
from cases.procedure.policy import Policy
from cases.store.db import Database, UnitOfWork
from cases.store.models import ConductCase, pk
from cases.subject_links import issue_link
from tests.conftest import bearer
from tests.postgres import free_port
from tests.processes import PATIENCE, wait_for
from tests.receivers import Mailbox, smtp_server

REPORTER = {"name": "欧阳晓燕", "contact": "oyxy.reporter@univ.example"}
SUBJECT = {"handle": "stu.zwm2026x", "name": "张伟明", "email": "zwm.subject@univ.example"}
STAFF = "inv.wang"


def _env(data: Path, port: int, smtp_port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "QINGFENG_DATA_DIR": str(data),
        "QINGFENG_PORT": str(port),
        "QINGFENG_ORCHESTRATION": "false",
        "QINGFENG_SMTP_HOST": "127.0.0.1",
        "QINGFENG_SMTP_PORT": str(smtp_port),
        "QINGFENG_PORTAL_URL": f"http://127.0.0.1:{port}",
        "QINGFENG_LOG_LEVEL": "DEBUG",  # the most any process would write
    }
    for inherited in ("QINGFENG_DATABASE_URL", "PREFECT_API_URL", "QINGFENG_LOG_JSON"):
        env.pop(inherited, None)
    return env


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=PATIENCE).is_success
    except httpx.HTTPError:
        return False


def _unsent(db_file: Path) -> int:
    with sqlite3.connect(db_file) as connection:
        query = "SELECT count(*) FROM outbox WHERE topic = 'channel_send' AND state != 'done'"
        return int(connection.execute(query).fetchone()[0])


def _file_through_the_form(web: httpx.Client) -> tuple[str, str]:
    form = web.get("/report")
    submission = re.search(r'name="submission" value="([^"]+)"', form.text)
    assert submission is not None
    filed = web.post(
        "/report",
        data={
            "form_token": web.cookies["qf_form"],
            "submission": submission.group(1),
            "unit": "cs-su",
            "subject_name": SUBJECT["name"],
            "subject_handle": SUBJECT["handle"],
            "summary": "部长要求干事替他跑腿",
            "details": "多次要求新干事替他取快递。",
            "anonymous": "false",
            "reporter_name": REPORTER["name"],
            "reporter_contact": REPORTER["contact"],
        },
    )
    assert filed.status_code == 200, filed.text[:500]
    reference = re.search(r"<strong>(QF-\d{4}-\d{5})</strong>", filed.text)
    assert reference is not None
    return reference.group(1), "-".join(re.findall(r"<span>([0-9A-Z]{4})</span>", filed.text))


def _lifecycle(url: str, db: Database, policy: Policy, token: str, mailbox: Mailbox) -> list[str]:
    """File, read the receipt, follow the case, accept it, open the subject's page; returns
    the secrets handed out on the way."""
    with httpx.Client(base_url=url, timeout=PATIENCE, follow_redirects=True) as web:
        reference, code = _file_through_the_form(web)
        assert wait_for(lambda: bool(mailbox.to(REPORTER["contact"])), PATIENCE), "no receipt"
        [receipt] = mailbox.to(REPORTER["contact"])
        assert isinstance(receipt, EmailMessage) and code in str(receipt.get_content())
        status = web.post(
            "/status", data={"receipt_code": code, "form_token": web.cookies["qf_form"]}
        )
        assert status.status_code == 200 and reference in status.text
        wrong = web.post(
            "/status", data={"receipt_code": "0000-0000-0000-0001", "form_token": "forged"}
        )
        assert wrong.status_code >= 400
    with httpx.Client(base_url=url, timeout=PATIENCE, headers=bearer(token)) as api:
        case = api.get(f"/cases/{reference}")
        accept = {"category": "formalism", "severity": "serious", "investigators": [STAFF]}
        accepted = api.post(
            f"/cases/{reference}/accept", json=accept, headers={"If-Match": case.headers["etag"]}
        )
        assert accepted.status_code == 200, accepted.text
    with UnitOfWork(db, write=False) as uow:
        filed = uow.session.exec(select(ConductCase).where(ConductCase.reference == reference))
        row = filed.one()
        case_id, subject_id = pk(row), row.subject_id
    assert subject_id is not None
    link = issue_link(
        uow=UnitOfWork(db), policy=policy, case_id=case_id, person_id=subject_id, now=utcnow()
    )
    with httpx.Client(base_url=url, timeout=PATIENCE, follow_redirects=True) as visit:
        page = visit.get(f"/s/{link}")
        assert page.status_code == 200 and reference in page.text
        assert visit.get(f"/s/{link[:-4]}AAAA").status_code == 404  # a wrong link, logged?
    return [code, code.replace("-", ""), link]


# A whole `up` (minutes on a busy machine): the long lane, make test-lanes.
@pytest.mark.lane
def test_a_report_s_whole_life_leaves_nothing_personal_in_any_log(
    tmp_path: Path, policy: Policy
) -> None:
    data, port = tmp_path / "data", free_port()
    url = f"http://127.0.0.1:{port}"
    with smtp_server() as (mail_server, mailbox):
        env = _env(data, port, mail_server.port)
        command = [sys.executable, "-m", "api.cli"]
        migrated = subprocess.run([*command, "migrate"], env=env, capture_output=True, check=True)
        db = Database(f"sqlite:///{data / 'qingfeng.db'}")
        tokens = seed_organisation(UnitOfWork(db))
        add_person(
            uow=UnitOfWork(db), handle=SUBJECT["handle"], name=SUBJECT["name"],
            unit="cs-su", email=SUBJECT["email"],
        )  # fmt: skip
        out, err = (tmp_path / "up.out").open("wb"), (tmp_path / "up.err").open("wb")
        up = subprocess.Popen([*command, "up", "--no-migrate"], env=env, stdout=out, stderr=err)
        try:
            assert wait_for(lambda: _answers(url), 3 * PATIENCE), "the API did not answer"
            secrets = _lifecycle(url, db, policy, tokens[STAFF], mailbox)
            assert wait_for(lambda: _unsent(data / "qingfeng.db") == 0, PATIENCE)
        finally:
            up.send_signal(signal.SIGINT)
            up.wait(timeout=3 * PATIENCE)
            out.close()
            err.close()
            db.dispose()
    assert up.returncode == 0
    logs = {"migrate": (migrated.stdout + migrated.stderr).decode()}
    logs |= {
        p.name: p.read_text(errors="replace") for p in (tmp_path / "up.out", tmp_path / "up.err")
    }
    logs |= {str(p): p.read_text(errors="replace") for p in data.rglob("*.log")}
    everything = "\n".join(logs.values())
    # The capture holds the processes' logs (the notifier child's go to `up`'s stderr; it
    # sent the mails above, and logs nothing when all goes well).
    assert "Uvicorn running" in everything and "deadlines recomputed" in everything
    personal = [
        *REPORTER.values(), *SUBJECT.values(), REPORTER["contact"].split("@")[0],
        SUBJECT["email"].split("@")[0], STAFF, tokens[STAFF], *secrets,
    ]  # fmt: skip
    found = {value: name for value in personal for name, text in logs.items() if value in text}
    assert found == {}, everything[-3000:]
