"""Papers issued for a case (tables of their own): each decision notice (处理决定书) or
review decision (复查决定), numbered per calendar year without gaps, and the running
number behind them."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


class NoticeKind(StrEnum):
    DECISION = "decision"  # 处理决定书: the decision stands after sign-off and co-sign
    REVIEW = "review"  # 复查决定: the decision changed on appeal


class DecisionNoticeCounter(SQLModel, table=True):
    """The last notice number of a year (Asia/Shanghai): bumped in the deciding transaction,
    so a rolled-back decision leaves no gap and racing ones queue on this row."""

    __tablename__ = "decision_notice_counter"
    year: int = Field(primary_key=True)
    last: int = 0


class DecisionNotice(SQLModel, table=True):
    """One notice issued for a case: its number, what it decided and the dates it states,
    fixed when it is issued so that the paper reads the same whenever it is printed."""

    __tablename__ = "decision_notice"
    __table_args__ = (UniqueConstraint("year", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="conduct_case.id", index=True)
    kind: str = Field(max_length=12)  # NoticeKind
    number: str = Field(unique=True, max_length=80)  # <prefix>〔<year>〕<seq>号
    year: int
    seq: int
    disposition: str = Field(max_length=40)  # the disposition code decided
    issued_at: datetime
    effective_on: date  # the day the decision takes effect (Asia/Shanghai)
    appeal_ends_on: date | None = None  # the last working day to appeal, where one may
    signed_by: int | None = Field(default=None, foreign_key="person.id")  # the advisor
    cosigned_by: int | None = Field(default=None, foreign_key="person.id")  # the secretary
    supersedes_id: int | None = Field(default=None, foreign_key="decision_notice.id")
