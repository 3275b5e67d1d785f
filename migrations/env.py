"""Alembic environment: the URL comes from the caller's Config or from qingfeng settings."""

from alembic import context
from sqlmodel import SQLModel

import cases.store.models  # noqa: F401  (registers the tables)
from cases.store import (
    figures,  # noqa: F401  (the 述职 figures' projection)
    papers,  # noqa: F401  (decision notices and their numbers)
    reporter_side,  # noqa: F401  (messages, survey answers)
    staff_sessions,  # noqa: F401  (staff passwords and sessions)
    subject_links,  # noqa: F401  (the subject's links)
)
from cases.store.db import Database
from config.settings import get_settings

config = context.config
url = config.get_main_option("sqlalchemy.url") or get_settings().effective_database_url


def run_migrations_offline() -> None:
    context.configure(
        url=url,
        target_metadata=SQLModel.metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    db = Database(url, pool_size=1)
    with db.writer.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=SQLModel.metadata,
            render_as_batch=url.startswith("sqlite"),
        )
        with context.begin_transaction():
            context.run_migrations()
    db.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
