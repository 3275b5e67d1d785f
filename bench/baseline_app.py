"""The baseline for bench/actions.py: bare FastAPI + SQLModel, one row inserted per request,
on the same kind of database (a SQLite file in WAL mode, or the same PostgreSQL URL)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from fastapi import FastAPI
from pydantic import BaseModel
from sqlmodel import Field, Session, SQLModel

from cases.store.db import Database


class Row(SQLModel, table=True):
    __tablename__ = "bench_row"
    id: int | None = Field(default=None, primary_key=True)
    reference: str
    payload: str
    created_at: datetime


class RowIn(BaseModel):
    reference: str
    payload: str


db = Database(os.environ["BENCH_DATABASE_URL"])
SQLModel.metadata.create_all(db.writer, tables=[Row.__table__])  # type: ignore[attr-defined]
app = FastAPI()


@app.post("/rows")
def add_row(body: RowIn) -> dict[str, object]:
    with Session(db.writer) as session:
        row = Row(reference=body.reference, payload=body.payload, created_at=datetime.now(UTC))
        session.add(row)
        session.commit()
        return {"id": row.id, "reference": row.reference}
