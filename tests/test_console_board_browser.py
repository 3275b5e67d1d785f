"""The advisor's sign-off page and the secretary's board in a real browser (Debian
chromium): the advisor refuses without comments (the message beside the field), then
signs; the secretary's board with a case in each list; both pages in zh-CN and en on a
phone and a desktop. Full-page screenshots go to tests/artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from playwright.sync_api import Page, ViewportSize, expect

from api.http.deps import AppState
from cases.deadlines.calendar import add_working_days
from cases.firing import fire_due_steps
from cases.people.directory import add_person
from cases.people.sessions import set_password
from cases.procedure import commands as c
from cases.procedure.clock import local_date
from cases.procedure.vocabulary import Role, Stage
from cases.store.db import UnitOfWork
from cases.store.models import Person
from tests.browser import ARTIFACTS, refused
from tests.helpers import act, carry_to, file
from tests.test_console_board import ACCEPT, ACCEPTED, _case, _proposed

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PASSWORD = "correct horse battery"
VIEWS = [
    ("zh-CN", "phone", PHONE),
    ("en", "desktop", DESKTOP),
    ("zh-CN", "desktop", DESKTOP),
    ("en", "phone", PHONE),
]


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"console-{name}.png", full_page=True)


def _sign_in(page: Page, handle: str, next_path: str) -> None:
    page.goto(f"/signin?next={next_path}")
    page.locator("#f-handle").fill(handle)
    page.locator("#f-password").fill(PASSWORD)
    page.locator("#f-password").press("Enter")
    expect(page).to_have_url(next_path)


@pytest.fixture
def board_cases(state: AppState, people: dict[str, Person]) -> dict[str, str]:
    """A case in each of the board's lists, and one proposal waiting for adv.cs-su."""
    for handle in ("adv.cs-su", "sec.li"):
        set_password(uow=UnitOfWork(state.db), handle=handle, password=PASSWORD)
    late = file(state, unit="law-su", now=ACCEPTED)
    act(state, people, late, "inv.wang", ACCEPT, now=ACCEPTED)
    with time_machine.travel(ACCEPTED + timedelta(days=60), tick=False):
        fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=datetime.now(UTC))
    asking = file(state, unit="med-su")
    act(state, people, asking, "inv.wang", ACCEPT)
    due = local_date(_case(state, asking).due_at or ACCEPTED)
    act(
        state,
        people,
        asking,
        "inv.wang",
        c.RequestExtension(reason="证人外出实习，需延后谈话", due_on=add_working_days(due, 5)),
    )
    cosign = _proposed(state, people, "public_criticism")
    act(state, people, cosign, "adv.cs-su", c.SignOff(comment="同意"))
    add_person(
        uow=UnitOfWork(state.db),
        handle="ver.cs",
        name="同院核实",
        unit="cs-su",
        roles=[(Role.VERIFIER, "league")],
    )
    overridden = file(state)
    carry_to(state, people, overridden, Stage.VERIFICATION)
    act(
        state,
        people,
        overridden,
        "sec.li",
        c.Assign(capacity="verifier", person="ver.cs", override_reason="本院仅一名核实人员"),
    )
    appeal = file(state)
    carry_to(state, people, appeal, Stage.APPEAL_REVIEW)
    return {
        "proposal": _proposed(state, people),
        "late": late,
        "asking": asking,
        "cosign": cosign,
        "appeal": appeal,
    }


def test_the_advisor_refuses_then_signs_in_the_browser(
    page: Page, state: AppState, board_cases: dict[str, str]
) -> None:
    ref = board_cases["proposal"]
    page.set_viewport_size(PHONE)
    _sign_in(page, "adv.cs-su", "/console/signoff")
    expect(page.locator(f"#case-{ref}")).to_contain_text("警告")
    page.locator(f"#case-{ref} a").click()
    expect(page.locator("h1")).to_have_text(f"审签处理意见 {ref}")
    for lang, size, viewport in VIEWS:
        page.set_viewport_size(viewport)
        page.goto(f"/console/signoff/{ref}?lang={lang}")
        _shot(page, f"signoff-{lang}-{size}")
    page.goto(f"/console/signoff/{ref}?lang=zh-CN")
    page.locator("#f-refuse").fill(" ")
    page.evaluate("document.querySelector('#f-refuse').removeAttribute('required')")
    page.get_by_role("button", name="退回处理意见").click()
    expect(page.locator("#e-refuse")).to_have_text("请填写此项。")
    page.get_by_role("button", name="签署同意").click()
    expect(page.locator(".done")).to_have_text("已签署同意。")
    expect(page.locator("#nothing-to-do")).to_be_visible()
    _shot(page, "signoff-signed-zh-CN-phone")
    assert _case(state, ref).advisor_signed_by is not None
    assert refused(page) == []


def test_the_secretarys_board_in_the_browser(
    page: Page, state: AppState, board_cases: dict[str, str]
) -> None:
    _sign_in(page, "sec.li", "/console/board")
    expect(page.locator(f"#overdue-{board_cases['late']}")).to_contain_text("红色警示")
    expect(page.locator(f"#extension-{board_cases['asking']}")).to_contain_text("证人外出实习")
    expect(page.locator(f"#cosign-{board_cases['cosign']}")).to_contain_text("通报批评")
    expect(page.locator(f"#appeal-{board_cases['appeal']}")).to_be_visible()
    expect(page.locator(".override")).to_contain_text("本院仅一名核实人员")
    for lang, size, viewport in VIEWS:
        page.set_viewport_size(viewport)
        page.goto(f"/console/board?lang={lang}")
        _shot(page, f"board-{lang}-{size}")
    page.goto("/console/board?lang=zh-CN")
    asking = board_cases["asking"]
    page.locator(f"#grant-{asking} button").click()
    expect(page.locator(".done")).to_have_text(f"{asking} 已批准延期。")
    page.locator(f"#f-{board_cases['appeal']}-person").fill("rev.zhou")
    page.locator(f"#assign-{board_cases['appeal']} button").click()
    expect(page.locator(".done")).to_contain_text("已指派复查人")
    expect(page.locator(f"#appeal-{board_cases['appeal']}")).to_have_count(0)
    assert refused(page) == []
