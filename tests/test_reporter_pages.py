"""The reporter's whole way in a real browser (Debian chromium, a phone's viewport): an
anonymous report with a photo, the receipt code, the status page, a message answered by an
investigator through the API, and after closure the survey; in zh-CN and en."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import httpx
from PIL import Image
from playwright.sync_api import Page, expect
from sqlmodel import select

from api.http.deps import AppState
from cases.procedure.vocabulary import Stage
from cases.store.db import UnitOfWork
from cases.store.models import ConductCase, Evidence, Person
from cases.store.reporter_side import SurveyAnswer
from tests.browser import refused
from tests.conftest import bearer
from tests.helpers import carry_to

PHONE = {"width": 390, "height": 844}
GPS = 0x8825


def _photo(folder: Path) -> Path:
    """A JPEG from a phone: it carries where it was taken."""
    exif = Image.Exif()
    exif[GPS] = {1: "N", 2: (31.0, 1.0, 2.0), 3: "E", 4: (121.0, 26.0, 3.0)}
    out = io.BytesIO()
    Image.new("RGB", (80, 60), (30, 60, 200)).save(out, "JPEG", exif=exif)
    path = folder / "现场照片.jpg"
    path.write_bytes(out.getvalue())
    return path


def _file_with_a_photo(page: Page, photo: Path) -> str:
    page.goto("/report")
    page.get_by_label("所在组织").select_option("cs-su")
    page.locator("#f-subject_name").fill("李某")
    page.get_by_label("一句话概括").fill("部长要求干事替他跑腿")
    page.get_by_label("具体经过").fill("十一月以来多次要求新干事替他取快递，不去就不给评优。")
    page.get_by_label("证据材料（可多选，可不传）").set_input_files(photo)
    page.get_by_role("button", name="提交").click()
    expect(page.locator("h1")).to_have_text("已收到你的反映")
    return "-".join(page.locator(".code span").all_inner_texts())


def test_a_reporter_files_follows_writes_and_rates_in_a_browser(
    page: Page,
    live_url: str,
    people: dict[str, Person],
    tokens: dict[str, str],
    state: AppState,
    tmp_path: Path,
    screenshot: Callable[[str], Path],
) -> None:
    page.set_viewport_size(PHONE)
    code = _file_with_a_photo(page, _photo(tmp_path))
    with UnitOfWork(state.db, write=False) as uow:
        case = uow.session.exec(select(ConductCase)).one()
        item = uow.session.exec(select(Evidence)).one()
    stored = state.settings.data_dir / "evidence" / str(case.id) / str(item.stored_name)
    assert GPS not in Image.open(stored).getexif()  # the place it was taken is gone

    page.goto("/status")
    page.get_by_label("回执码").fill(code)
    page.get_by_role("button", name="查询").click()
    expect(page.locator("h1")).to_contain_text(case.reference)
    expect(page.locator("#evidence")).to_contain_text("现场照片.jpg")
    page.get_by_label("给承办人员留言").fill("还有一位同学也被要求过，可以作证。")
    page.get_by_role("button", name="发送").click()
    expect(page.get_by_role("status")).to_have_text("留言已发送。")
    assert "qf_reporter" in {c["name"] for c in page.context.cookies()}
    assert code not in page.url

    answered = httpx.post(
        f"{live_url}/cases/{case.reference}/messages",
        json={"body": "谢谢，请告诉我们这位同学的联系方式。"},
        headers=bearer(tokens["inv.wang"]),
    )
    assert answered.status_code == 201, answered.text
    page.reload()
    expect(page.locator(".messages li.theirs")).to_contain_text("请告诉我们这位同学的联系方式")
    expect(page.locator(".messages li.theirs .meta")).to_contain_text("承办人员")
    page.locator("#message").scroll_into_view_if_needed()
    screenshot("messages-zh")

    page.goto("/status/case?lang=en")
    expect(page.locator("h2#messages-h")).to_have_text("Messages with the case team")
    expect(page.locator(".messages li.theirs .meta")).to_contain_text("Case team")
    screenshot("messages-en")

    carry_to(state, people, case.reference, Stage.CLOSED)
    page.goto("/survey?lang=zh-CN")
    page.get_by_label("回执码").fill(code)
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#survey-h")).to_have_text("满意度评价")
    page.get_by_label("4 满意").check()
    page.get_by_label("意见和建议（可不填）").fill("处理及时，感谢。")
    screenshot("survey-zh")
    page.get_by_role("button", name="提交评价").click()
    expect(page.get_by_role("status")).to_have_text("感谢你的评价！")
    expect(page.locator("#survey")).to_contain_text("你已评价过")
    page.goto("/status/case?lang=en")
    expect(page.locator("#survey")).to_contain_text("You have rated this case")
    screenshot("rated-en")
    with UnitOfWork(state.db, write=False) as uow:
        assert [(a.score, a.comment) for a in uow.session.exec(select(SurveyAnswer))] == [
            (4, "处理及时，感谢。")
        ]
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code)
    assert refused(page) == []
