"""The subject's links (a table of its own): each lets the subject of one case open their
page for a while. Only the SHA-256 of the link's token and of its short code are kept."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class SubjectLink(SQLModel, table=True):
    """One link sent or handed to the subject; revoked, or past ``expires_at``, it opens nothing."""

    __tablename__ = "subject_link"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="conduct_case.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    token_hash: str = Field(unique=True, max_length=64)
    code_hash: str | None = Field(default=None, unique=True, max_length=64)
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
