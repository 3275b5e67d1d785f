"""Shared fixtures: a real SQLite file per test (copied from one migrated template)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

os.environ.setdefault("QINGFENG_DATA_DIR", "/tmp/qingfeng-tests-unused")
if "PYTEST_XDIST_WORKER" in os.environ:  # a worker's rich consoles take 80 columns at import
    os.environ["COLUMNS"] = "400"  # see wide_console below

from api.http.app import create_app
from api.http.deps import AppState
from cases.demo import seed_organisation
from cases.files import load_policy
from cases.procedure.policy import Policy
from cases.store.db import Database, UnitOfWork
from cases.store.migrate import upgrade
from cases.store.models import Person
from config.settings import DEFAULT_POLICY_FILE, Settings

# live_url, browser, page, offsite, screenshot: the app in Debian's chromium.
pytest_plugins = ["tests.browser"]


def _long(item: pytest.Item) -> bool:
    """Marked slow, or `qingfeng up` started for real (minutes each on a busy machine)."""
    return item.get_closest_marker("slow") is not None or item.path.name == "test_service_up.py"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups off the items
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`-n 2 --dist loadgroup`) every test on the session's Prefect
    server (tests/test_orchestration.py `deployments`) goes to one worker: one server
    started, not one per worker; and the slow tests are handed out first, so that no
    worker is left with one of them at the end while the other idles."""
    for item in items:
        if "deployments" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("prefect"))
    if hasattr(config, "workerinput"):  # the same order on every worker, as xdist needs
        items.sort(key=lambda item: not _long(item))


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's messages (rich, 80 columns without a terminal) unwrapped: a temporary path
    is longer under pytest-xdist (…/popen-gw0/…) and would be cut mid-word."""
    monkeypatch.setenv("COLUMNS", "400")


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(DEFAULT_POLICY_FILE)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "qingfeng.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def db_file(state: AppState) -> Path:
    """The SQLite file behind ``state`` (for tests that edit it directly); those tests are
    SQLite's alone, so the PostgreSQL lane skips them."""
    if not state.db.url.startswith("sqlite:///"):
        pytest.skip("edits the SQLite file directly")
    return Path(state.db.url.removeprefix("sqlite:///"))


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A real PostgreSQL server with a migrated template database; skips when none is
    installed, unless QINGFENG_REQUIRE_POSTGRES is set (as in CI), where it fails."""
    from tests import postgres

    bin_dir = postgres.binaries()
    if bin_dir is None:
        if os.environ.get("QINGFENG_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is required (QINGFENG_REQUIRE_POSTGRES) but not installed")
        pytest.skip("PostgreSQL is not installed here; .ci/run installs it")
    with postgres.server(bin_dir) as url:
        upgrade(postgres.create_database(url, "qingfeng_template"))
        yield url


_databases = iter(range(1, 1_000_000))
# `make test-pg` (QINGFENG_TEST_DATABASE=postgres): every test's `state` on PostgreSQL.
_DEFAULT_DATABASE = os.environ.get("QINGFENG_TEST_DATABASE", "sqlite")


@pytest.fixture(params=[_DEFAULT_DATABASE])
def state(
    request: pytest.FixtureRequest, tmp_path: Path, policy: Policy, template_db: Path
) -> Iterator[AppState]:
    """The app state on a fresh database: a SQLite file, or (param "postgres") a database
    copied from the migrated template on a real PostgreSQL server."""
    if request.param == "postgres":
        from tests import postgres

        server_url = request.getfixturevalue("postgres_template")
        url = postgres.create_database(
            server_url, f"t{next(_databases)}", template="qingfeng_template"
        )
    else:
        db_file = tmp_path / "qingfeng.db"
        shutil.copyfile(template_db, db_file)
        url = f"sqlite:///{db_file}"
    settings = Settings(data_dir=tmp_path, database_url=url)
    db = Database(settings.effective_database_url, pool_size=8)
    yield AppState(settings=settings, policy=policy, db=db, secret=b"test-secret")
    db.dispose()


BOTH_DATABASES = pytest.mark.parametrize("state", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def tokens(state: AppState) -> dict[str, str]:
    """The demo organisation: units, staff in every role, advisors; a token for each."""
    return seed_organisation(UnitOfWork(state.db))


@pytest.fixture
def people(state: AppState, tokens: dict[str, str]) -> dict[str, Person]:
    with UnitOfWork(state.db, write=False) as uow:
        return {p.handle: p for p in uow.session.exec(select(Person))}


@pytest.fixture
def client(state: AppState) -> Iterator[TestClient]:
    with TestClient(create_app(state)) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
