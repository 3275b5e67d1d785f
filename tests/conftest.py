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

from api.app import create_app
from api.deps import AppState
from cases.db import Database, UnitOfWork
from cases.demo import seed_organisation
from cases.migrate import upgrade
from cases.models import Person
from cases.policy import Policy, load_policy
from config.settings import DEFAULT_POLICY_FILE, Settings


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(DEFAULT_POLICY_FILE)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "qingfeng.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def db_file(template_db: Path, tmp_path: Path) -> Path:
    target = tmp_path / "qingfeng.db"
    shutil.copyfile(template_db, target)
    return target


@pytest.fixture
def state(db_file: Path, tmp_path: Path, policy: Policy) -> Iterator[AppState]:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{db_file}")
    db = Database(settings.effective_database_url, pool_size=8)
    yield AppState(settings=settings, policy=policy, db=db, secret=b"test-secret")
    db.dispose()


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
