"""Crash test: `qingfeng up` as real processes under a load of intakes and staff actions,
SIGKILLed three times at random moments (seeded: QINGFENG_CRASH_SEED, or a fresh seed,
printed) and started again each time. No process of a killed generation outlives it.
Afterwards every action answered 2xx is in its case's chain exactly once, nothing that
failed is half-applied (`audit verify` compares each case row with its chain), every
deadline step that fell due fired once, every stage run exists once and completed, and
every message reached the SMTP server and the webhook receiver once, by key."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml

from api.stack.processes import end_previous, keep_pid
from cases.demo import seed_organisation
from cases.store.db import Database, UnitOfWork
from cases.store.migrate import upgrade
from config.settings import DEFAULT_POLICY_FILE
from tests import aftermath
from tests.aftermath import Answered
from tests.helpers import SHA
from tests.processes import PATIENCE, wait_for
from tests.receivers import Mailbox, Received, http_receiver, smtp_server, standard_webhook

# Its own CI lane (make test-lanes): three `up` generations under load take minutes.
pytestmark = [pytest.mark.slow, pytest.mark.lane]

CASES = 8
KILLS = 3
SECRET = "whsec_" + "Y3Jhc2gtdGVzdC1zaWduaW5nLWtleQ=="
ACCEPT = {"category": "cliques", "severity": "serious", "investigators": ["inv.wang", "inv.zhao"]}
# Each case's requests, in order: (who, path, body); the report is filed anonymously-signed.
STEPS: list[tuple[str, str, dict[str, Any]]] = [
    ("inv.wang", "accept", ACCEPT),
    ("inv.zhao", "record-evidence", {"description": "聊天记录截图", "sha256": SHA}),
    (
        "inv.wang",
        "record-interview",
        {"interviewee": "部门成员", "summary": "证实", "held_on": "2026-11-20"},
    ),
    ("inv.wang", "record-statement", {"statement": "被反映人陈述"}),
]


@dataclass
class Load:
    """Files CASES reports and acts on them over HTTP, one request at a time, each with an
    Idempotency-Key; a failed request is sent again, same key and body, until it gets an
    answer. ``answered``: the 2xx; ``failed``: each failure (key, what went wrong)."""

    url: str
    tokens: dict[str, str]
    answered: list[Answered] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # 4xx: a wrong test or a real defect
    progress: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))

    @property
    def total(self) -> int:
        return CASES * (1 + len(STEPS))

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=PATIENCE) as client:
            etags, references = [], []
            for case in range(CASES):
                etags.append(self._file(client, case))
                references.append(self.answered[-1].reference)
            for who, path, body in STEPS:  # round the cases: each crash finds several open
                for case in range(CASES):
                    headers = {"Authorization": f"Bearer {self.tokens[who]}"}
                    headers["If-Match"] = etags[case]
                    reference = references[case]
                    action = "case." + path.replace("-", "_")
                    etags[case] = self._send(
                        client, case, action, f"/cases/{reference}/{path}", body, headers
                    )

    def _file(self, client: httpx.Client, case: int) -> str:
        report = {
            "unit": "cs-su",
            "subject_handle": f"2023{case:06d}",
            "subject_name": f"学生{case}",
            "summary": "学生会干部搞圈子",
            "details": "在部门内搞小圈子,排斥新成员。",
            "anonymous": False,
            "reporter_name": f"反映人{case}",
            "reporter_contact": f"reporter{case}@univ.example",
        }
        return self._send(client, case, "case.filed", "/reports", report, {})

    def _send(
        self,
        client: httpx.Client,
        case: int,
        action: str,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str],
    ) -> str:
        """The request until it is answered; returns the case's new ETag."""
        key = str(uuid.uuid4())
        while True:
            try:
                response = client.post(path, json=body, headers={**headers, "Idempotency-Key": key})
            except httpx.HTTPError as error:
                self.failed.append((key, type(error).__name__))
            else:
                if response.is_success:
                    answer = response.json()
                    reference = answer["reference"]
                    version = int(response.headers["ETag"].strip('"'))
                    replayed = response.headers.get("Idempotent-Replayed") == "true"
                    self.answered.append(Answered(case, action, key, version, reference, replayed))
                    self.progress.release()
                    return response.headers["ETag"]
                if response.status_code < 500:
                    raise AssertionError(f"{path} {response.status_code} {response.text}")
                self.failed.append((key, str(response.status_code)))
            wait_for(lambda: _answers(self.url), PATIENCE)  # the next `up`, then again


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=5).is_success
    except httpx.HTTPError:
        return False


def _policy(path: Path) -> Path:
    """The default policy with a ladder whose first two steps fall due at once (days before
    the due time) and an intake that takes the whole load from one address."""
    policy = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    for step, offset in zip(policy["escalation"], (-10, -8, 2, 5), strict=True):
        step["offset_working_days"] = offset
    policy["intake"] = {"per_client_per_hour": 1000, "overall_per_hour": 1000}
    path.write_text(yaml.safe_dump(policy, allow_unicode=True))
    return path


def _environment(tmp_path: Path, smtp_port: int, hook_url: str) -> dict[str, str]:
    routes = tmp_path / "notifications.yaml"
    routes.write_text(
        "channels:\n  email: {kind: email}\n"
        "  gateway: {kind: webhook, url_env: QINGFENG_GATEWAY_URL,"
        " secret_env: QINGFENG_GATEWAY_SECRET}\n"
        "routes:\n  - channel: email\n  - channel: gateway\n"
    )
    env = {
        **os.environ,
        "QINGFENG_DATA_DIR": str(tmp_path),
        "QINGFENG_PORT": str(_free_port()),
        "QINGFENG_PREFECT_PORT": str(_free_port()),
        "QINGFENG_SMTP_HOST": "127.0.0.1",
        "QINGFENG_SMTP_PORT": str(smtp_port),
        "QINGFENG_POLICY_FILE": str(_policy(tmp_path / "policy.yaml")),
        "QINGFENG_NOTIFICATIONS_FILE": str(routes),
        "QINGFENG_NOTIFY_BACKOFF_SECONDS": "1",
        "QINGFENG_GATEWAY_URL": hook_url,
        "QINGFENG_GATEWAY_SECRET": SECRET,
    }
    for inherited in ("QINGFENG_DATABASE_URL", "PREFECT_API_URL"):  # the embedded default
        env.pop(inherited, None)
    return env


def _free_port() -> int:
    from tests.postgres import free_port

    return free_port()


class Generation:
    """One `qingfeng up` and, when it is killed, the processes it had."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        with log.open("ab") as out:
            self.up = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "up", "--no-migrate"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def processes(self) -> list[psutil.Process]:
        """`up` and everything below it (children, their children…), now."""
        top = psutil.Process(self.up.pid)
        return [top, *top.children(recursive=True)]

    def kill(self) -> list[psutil.Process]:
        """kill -9 of `up` alone (what a crash or the OOM killer does); returns what it had."""
        had = self.processes()
        print("kill -9 of", " | ".join(_command(p) for p in had))
        self.up.send_signal(signal.SIGKILL)
        self.up.wait()
        return had


def _command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline()[1:4])
    except psutil.Error:
        return "(gone)"


def _all_gone(processes: list[psutil.Process]) -> bool:
    return not _survivors(processes)


def _survivors(processes: list[psutil.Process]) -> list[str]:
    """Those of ``processes`` still running (psutil tells a reused pid from the original)."""
    found = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                found.append(_command(process))
        except psutil.NoSuchProcess:
            continue
    return found


@contextmanager
def _receivers() -> Iterator[tuple[int, Mailbox, list[Received], str]]:
    with smtp_server() as (mail_server, mailbox), http_receiver(standard_webhook(SECRET)) as hook:
        yield mail_server.port, mailbox, hook.accepted, f"{hook.url}/hook"


def test_kill_9_of_up_three_times_under_load_loses_and_repeats_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("QINGFENG_CRASH_SEED") or random.SystemRandom().randrange(10**6))
    print(f"crash test seed: QINGFENG_CRASH_SEED={seed}")
    url = f"sqlite:///{tmp_path / 'qingfeng.db'}"
    with _receivers() as (smtp_port, mailbox, hooks, hook_url):
        env = _environment(tmp_path, smtp_port, hook_url)
        upgrade(url)
        db = Database(url, pool_size=2)
        load = Load(f"http://127.0.0.1:{env['QINGFENG_PORT']}", seed_organisation(UnitOfWork(db)))
        db.dispose()
        generations: list[Generation] = []  # the last one runs on
        try:
            _crash_under_load(load, env, tmp_path, random.Random(seed), generations)
            generation = generations[-1]
            assert _alive_until(generation, lambda: aftermath.settled(url)), aftermath.backlog(url)
            sent = aftermath.messages(url)
            assert _alive_until(generation, lambda: _arrived(mailbox, hooks) >= sent)
        finally:
            if generations and generations[-1].up.poll() is None:
                _stop(generations[-1], tmp_path)
    replays = sum(a.replayed for a in load.answered)
    print(f"{len(load.failed)} tries failed and were sent again; {replays} were replays")
    aftermath.check_chains(url, load.answered, CASES)
    aftermath.check_deadlines(url)
    _check_stage_runs(url, f"sqlite:///{tmp_path / 'prefect' / 'prefect.db'}")
    aftermath.check_messages(url, mailbox, hooks)
    verified = subprocess.run(
        [sys.executable, "-m", "api.cli", "audit", "verify"], env=env, capture_output=True
    )
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()


def _crash_under_load(
    load: Load,
    env: dict[str, str],
    tmp_path: Path,
    rng: random.Random,
    generations: list[Generation],
) -> None:
    """The load from start to end, with `up` killed after a random count of answers each
    time and started again; ``generations`` gets each `up`, the last still running."""
    moments = sorted(rng.sample(range(2, load.total - 2), KILLS))
    print(f"kills after answers {moments} of {load.total}")
    generation = Generation(env, tmp_path / "up.log")
    generations.append(generation)
    worker = threading.Thread(target=_run_catching, args=(load,), daemon=True)
    worker.start()
    answered = 0
    for moment in moments:
        while answered < moment:
            if load.progress.acquire(timeout=1):
                answered += 1
                continue
            # Nothing yet: a `up` that exited on its own, or a refused request, fails now.
            assert generation.up.poll() is None, _tail(tmp_path)
            assert worker.is_alive(), load.refused
        had = generation.kill()
        assert wait_for(partial(_all_gone, had), PATIENCE / 2), _survivors(had)
        generation = Generation(env, tmp_path / "up.log")
        generations.append(generation)
    assert _alive_until(generation, lambda: not worker.is_alive()), _tail(tmp_path)
    assert not load.refused and len(load.answered) == load.total, load.refused


def _alive_until(generation: Generation, check: Callable[[], bool]) -> bool:
    """Whether ``check`` holds within a generous backstop, failing at once if `up` exits."""

    def done() -> bool:
        assert generation.up.poll() is None, "up exited on its own"
        return check()

    return wait_for(done, 4 * PATIENCE)


def _run_catching(load: Load) -> None:
    try:
        load.run()
    except Exception as error:  # the main thread reads load.refused
        load.refused.append(repr(error))
        load.progress.release()


def _stop(generation: Generation, tmp_path: Path) -> None:
    """Ctrl-C, as a user stops it: everything stops in order, nothing is left running."""
    had = generation.processes()
    generation.up.send_signal(signal.SIGINT)
    try:
        generation.up.wait(timeout=3 * PATIENCE)
    finally:
        if generation.up.poll() is None:
            generation.up.kill()
    assert generation.up.returncode == 0, _tail(tmp_path)
    assert wait_for(lambda: not _survivors(had), PATIENCE), _survivors(had)


def _tail(tmp_path: Path) -> str:
    return (tmp_path / "up.log").read_text(errors="replace")[-6000:]


def _arrived(mailbox: Mailbox, hooks: list[Received]) -> int:
    return len(mailbox.mails) + len(hooks)


def _check_stage_runs(url: str, prefect_url: str) -> None:
    """One stage_flow row per transition and step, done, with one completed Prefect run
    (found by its idempotency key), and no stage run in Prefect beyond them."""
    rows = {
        key.removeprefix("flow:"): run  # the run's idempotency key is the row's key's tail
        for key, run in aftermath.rows(
            url, "SELECT key, external_id FROM outbox WHERE topic = 'stage_flow'"
        )
    }
    assert rows and None not in rows.values()
    runs = aftermath.rows(
        prefect_url,
        "SELECT flow_run.idempotency_key, flow_run.id, flow_run.state_type FROM flow_run"
        " JOIN flow ON flow.id = flow_run.flow_id WHERE flow.name = 'case-stage'",
    )
    per_key = Counter(key for key, _, _ in runs)
    assert set(per_key) == set(rows) and set(per_key.values()) == {1}, per_key
    for key, run_id, state in runs:
        assert (str(uuid.UUID(str(run_id))), state) == (rows[key], "COMPLETED"), key


def test_what_is_left_of_a_previous_childs_group_is_killed_before_its_successor(
    tmp_path: Path,
) -> None:
    """The start-up sweep, where no death signal reached (another OS, a grandchild)."""
    spawns = (
        "import subprocess, sys, time;"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']);"
        "print('started', flush=True); time.sleep(300)"
    )
    with _own_group(spawns) as leader, _own_group("import time; time.sleep(300)") as other:
        pid_file = tmp_path / "run" / "child.pid"
        keep_pid(pid_file, leader.pid)
        [grandchild] = psutil.Process(leader.pid).children()
        leader.kill()
        leader.wait()  # its child lives on, in its group, orphaned
        assert not _all_gone([grandchild])
        end_previous(pid_file, "child")
        assert wait_for(partial(_all_gone, [grandchild]), PATIENCE)
        # A pid file whose pid runs with another start time names someone else: untouched.
        pid_file.write_text(f"{other.pid} 1.0\n")
        end_previous(pid_file, "child")
        assert other.poll() is None


@contextmanager
def _own_group(code: str) -> Iterator[subprocess.Popen[bytes]]:
    """A Python process running ``code`` in a session (so a process group) of its own,
    once it has printed its first line, if it prints one; killed with its group on leaving."""
    process = subprocess.Popen(
        [sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE
    )
    try:
        if "print" in code:
            assert process.stdout is not None
            process.stdout.readline()
        yield process
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
