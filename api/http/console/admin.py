"""The admin pages under /console/admin (admins only): units, people, declared
relationships, tokens; and /console/ops/outbox for operators. Anyone else gets the 404 of
a page that does not exist ("out of scope is 404"). Every form carries the form token."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from api.http.console import admin_links, admin_ops, admin_people, admin_units
from api.http.console.admin_base import AdminUser

router = APIRouter(include_in_schema=False)


@router.get("/console/admin")
def admin_home(staff: AdminUser) -> RedirectResponse:
    return RedirectResponse("/console/admin/people", status_code=303)


for _part in (admin_units, admin_people, admin_links, admin_ops):
    router.include_router(_part.router)
