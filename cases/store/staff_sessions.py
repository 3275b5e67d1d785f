"""Staff sign-in (tables of their own): each person's password hash (Argon2id) and the
console's sessions, of which only the SHA-256 of the session token is kept."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class StaffPassword(SQLModel, table=True):
    """A staff member's password, as its Argon2id hash (PHC string); one per person."""

    __tablename__ = "staff_password"
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    password_hash: str = Field(max_length=200)
    set_at: datetime


class StaffSession(SQLModel, table=True):
    """A console session: live until it is ended (sign-out, a new password) or idle or old
    past the settings' limits. The token itself is only ever in the person's cookie."""

    __tablename__ = "staff_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    person_id: int = Field(foreign_key="person.id", index=True)
    method: str = Field(max_length=16)  # how they signed in: password, oidc, cas
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None = None
