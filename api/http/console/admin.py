"""The admin pages: units, people, declared relationships, tokens; the outbox for operators."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
