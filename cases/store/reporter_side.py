"""What passes between a reporter and the case team (tables of their own): their messages,
in both directions, and the reporter's one satisfaction rating of a closed case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class CaseMessage(SQLModel, table=True):
    """One message: from the reporter (no author: they are known by the receipt code only)
    or from a member of the case team to the reporter."""

    __tablename__ = "case_message"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="conduct_case.id", index=True)
    from_reporter: bool
    author_id: int | None = Field(default=None, foreign_key="person.id")
    body: str = Field(sa_column=Column(Text, nullable=False))
    sent_at: datetime


class SurveyAnswer(SQLModel, table=True):
    """The reporter's rating of a closed case: one per case (the key says so)."""

    __tablename__ = "survey_answer"
    case_id: int = Field(foreign_key="conduct_case.id", primary_key=True)
    score: int
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    answered_at: datetime
