"""The procedure page and /procedure.json: drawn from the TRANSITIONS table itself, every
entry of it shown (in words, zh-CN and en), a case's stage highlighted; in a real browser
on a phone and a desktop, with no script and nothing the pages' policy had to stop."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, ViewportSize, expect

from api.http.procedure import texts
from api.http.procedure.diagram import layout
from api.http.procedure.model import procedure_view
from cases.procedure import guards as G
from cases.procedure.labels import ACTIONS_DONE, STAGES
from cases.procedure.machine import TRANSITIONS, Branch
from tests.browser import ARTIFACTS, refused

LANGUAGES = ("zh-CN", "en")


def _rule_row(html: str, stage: str, action: str) -> str:
    found = re.search(
        rf'<tr data-stage="{stage}" data-action="{action}">(.*?)</tr>', html, re.DOTALL
    )
    assert found, f"no row for ({stage}, {action})"
    return unescape(found.group(1))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_entry_of_the_table_is_on_the_page_in_words(
    client: TestClient, language: str
) -> None:
    response = client.get(f"/procedure?lang={language}")
    assert response.status_code == 200
    html = response.text
    assert "<script" not in html
    for (stage, action), rule in TRANSITIONS.items():
        row = _rule_row(html, stage, action)
        assert ACTIONS_DONE[action].text(language) in row
        assert f'data-who="{rule.who.name}"' in row
        assert texts.WHO[rule.who.name].text(language) in row
        for guard in rule.guards:
            assert f'data-guard="{guard.name}"' in row
            assert texts.GUARDS[guard.name].text(language) in row
        cell = row.rsplit("<td data-label=", 1)[1]
        if rule.to is None:
            assert texts.PAGE["stay"].text(language) in cell
        elif isinstance(rule.to, Branch):
            assert texts.CONDITIONS[rule.to.when.name].text(language) in cell
            assert STAGES[rule.to.otherwise].text(language) in cell
        else:
            assert STAGES[rule.to].text(language) in cell
    rows = re.findall(r'<tr data-stage="', html)
    assert len(rows) == len(TRANSITIONS)  # and nothing the table lacks


def test_the_diagram_has_a_box_for_every_stage_and_an_arrow_or_loop_for_every_action(
    client: TestClient,
) -> None:
    svg = unescape(client.get("/procedure?lang=en").text.split("<svg", 1)[1].split("</svg>")[0])
    for stage, name in STAGES.items():
        assert f'id="stage-{stage.value}"' in svg
        assert f">{name.text('en')}</text>" in svg
    plan = layout(procedure_view(), "en")
    for (stage, action), rule in TRANSITIONS.items():
        words = ACTIONS_DONE[action].text("en")
        targets = [rule.to.then, rule.to.otherwise] if isinstance(rule.to, Branch) else [rule.to]
        for target in targets:
            if target is None or target is stage:
                assert words in plan.stays[stage]
                assert f"↻ {words}<" in svg
            else:
                assert words in plan.moves[(stage, target)]
                assert words in svg
    # Layers follow the procedure: intake first, closed last, one row each.
    assert plan.rows[0].value == "intake" and plan.rows[-1].value == "closed"


def test_every_actor_guard_and_condition_of_the_guards_module_has_words() -> None:
    objects = [getattr(G, name) for name in dir(G)]
    assert {o.name for o in objects if isinstance(o, G.Who)} <= texts.WHO.keys()
    assert {o.name for o in objects if isinstance(o, G.Guard)} <= texts.GUARDS.keys()
    assert {o.name for o in objects if isinstance(o, G.Condition)} <= texts.CONDITIONS.keys()


def test_a_stage_is_highlighted_when_asked_and_an_unknown_one_is_refused(
    client: TestClient,
) -> None:
    plain = client.get("/procedure").text
    assert "本案所在阶段" not in plain
    html = client.get("/procedure?stage=investigation").text
    box = html.split('id="stage-investigation"', 1)[1].split("</g>", 1)[0]
    assert "本案所在阶段" in box and 'stroke-width="3"' in box
    assert html.count('stroke-width="3"') == 1  # that box only
    assert "<mark>▶ 调查（本案所在阶段）</mark>" in html
    refused_page = client.get("/procedure?stage=nowhere")
    assert refused_page.status_code == 404
    assert "没有这个阶段：nowhere" in refused_page.text
    assert "<script" not in refused_page.text


def test_procedure_json_carries_the_same_rows(client: TestClient) -> None:
    body = client.get("/procedure.json").json()
    assert [s["code"] for s in body["stages"]] == [s.value for s in STAGES]
    rows = {(r["stage"], r["action"]["code"]): r for r in body["transitions"]}
    assert rows.keys() == {(s.value, a.value) for s, a in TRANSITIONS}
    for (stage, action), rule in TRANSITIONS.items():
        row = rows[(stage.value, action.value)]
        assert row["who"] == {
            "code": rule.who.name,
            "label": texts.WHO[rule.who.name].model_dump(by_alias=True),
        }
        assert [g["code"] for g in row["guards"]] == [g.name for g in rule.guards]
        assert [g["separation_of_duties"] for g in row["guards"]] == [
            g.separation_of_duties for g in rule.guards
        ]
    sign_off = rows[("disposition", "sign_off")]["to"]
    assert sign_off["kind"] == "branch" and sign_off["when"]["code"] == "needs_cosign"
    assert (sign_off["then"], sign_off["otherwise"]) == ("disposition", "appeal_window")
    assert "/procedure.json" in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize(
    "viewport",
    [{"width": 390, "height": 844}, {"width": 1280, "height": 900}],
    ids=["phone", "desktop"],
)
def test_the_page_in_a_browser_in_both_languages(
    page: Page, request: pytest.FixtureRequest, viewport: ViewportSize
) -> None:
    page.set_viewport_size(viewport)
    page.goto("/procedure?stage=investigation")
    expect(page.locator("h1")).to_have_text("办理程序")
    expect(page.locator("svg #stage-investigation")).to_contain_text("本案所在阶段")
    box = page.locator("svg").bounding_box()
    assert box and box["width"] <= viewport["width"]  # the diagram fits the screen
    shots = [_shot(page, request, "zh")]
    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("The procedure")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    shots.append(_shot(page, request, "en"))
    assert all(path.stat().st_size > 10_000 for path in shots)
    assert refused(page) == []


def _shot(page: Page, request: pytest.FixtureRequest, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    test = re.sub(r"[^\w.-]+", "_", request.node.name)
    path = ARTIFACTS / f"{test}-{name}.png"
    page.screenshot(path=path, full_page=True)
    return path
