"""The stage machine as an inline SVG, laid out from the table (no script, nothing fetched).

Stages are boxes, one per row, in layers (the longest path from intake once the edges that
go back are set aside); an action that changes the stage is an arrow: straight down to the
next row, otherwise along a lane on the right (its label written upright beside it).
Actions that keep the case in its stage are listed inside the box, marked ↻.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from api.http.procedure.model import ProcedureView
from api.http.procedure.texts import PAGE
from cases.procedure.labels import STAGES
from cases.procedure.vocabulary import Stage

BOX_X, BOX_W, HEAD, LINE, PAD = 12, 232, 28, 18, 8
LANE_X, LANE_GAP, WIDTH = 274, 38, 390
INK, BOX, HERE_FILL, HERE_LINE = "#222", "#fff", "#fff1bf", "#9a6700"
Edge = tuple[Stage, Stage]


@dataclass
class Layout:
    rows: list[Stage]
    stays: dict[Stage, list[str]]  # the actions that keep each stage, in words
    moves: dict[Edge, list[str]]  # the actions along each arrow, in words


def _layers(stages: list[Stage], edges: list[Edge]) -> dict[Stage, int]:
    """Longest-path layers after removing the edges a depth-first walk finds going back."""
    out: dict[Stage, list[Stage]] = defaultdict(list)
    for src, dst in edges:
        out[src].append(dst)
    back: set[Edge] = set()
    state: dict[Stage, int] = {}

    def walk(node: Stage) -> None:
        state[node] = 1
        for nxt in out[node]:
            if state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                walk(nxt)
        state[node] = 2

    for stage in stages:
        if stage not in state:
            walk(stage)
    layer = dict.fromkeys(stages, 0)
    for _ in stages:  # relax: at most as many rounds as stages in an acyclic graph
        for src, dst in edges:
            if (src, dst) not in back and layer[dst] < layer[src] + 1:
                layer[dst] = layer[src] + 1
    return layer


def layout(view: ProcedureView, language: str) -> Layout:
    """The rows and the words on each box and arrow, from the table's rows."""
    stays: dict[Stage, list[str]] = {Stage(s.code): [] for s in view.stages}
    moves: dict[Edge, list[str]] = {}
    for row in view.transitions:
        here, words = Stage(row.stage), row.action.label.text(language)
        for target in dict.fromkeys(row.to.targets(here)):
            if target is here:
                stays[here].append(words)
            else:
                moves.setdefault((here, target), []).append(words)
    order = list(stays)
    layer = _layers(order, list(moves))
    rows = sorted(order, key=lambda s: (layer[s], order.index(s)))
    return Layout(rows, stays, moves)


def _lanes(spans: dict[Edge, tuple[int, int]]) -> dict[Edge, int]:
    """A lane for each long arrow: the shortest spans nearest the boxes, none overlapping."""
    taken: list[list[tuple[int, int]]] = []
    lanes: dict[Edge, int] = {}
    for edge, (low, high) in sorted(spans.items(), key=lambda e: e[1][1] - e[1][0]):
        for index, used in enumerate(taken):
            if all(high < a or low > b for a, b in used):
                used.append((low, high))
                lanes[edge] = index
                break
        else:
            taken.append([(low, high)])
            lanes[edge] = len(taken) - 1
    return lanes


def _text(x: float, y: float, words: str, **attrs: object) -> str:
    extra = " ".join(f'{k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<text x="{x:.0f}" y="{y:.0f}" {extra}>{escape(words)}</text>'


def render(view: ProcedureView, language: str, here: Stage | None = None) -> Markup:
    """The diagram as one ``<svg>`` element (``here``: the stage to highlight)."""
    plan = layout(view, language)
    index = {stage: i for i, stage in enumerate(plan.rows)}
    straight = {e: w for e, w in plan.moves.items() if index[e[1]] == index[e[0]] + 1}
    spans = {
        e: (min(index[e[0]], index[e[1]]), max(index[e[0]], index[e[1]]))
        for e in plan.moves
        if e not in straight
    }
    lanes = _lanes(spans)
    tops: dict[Stage, float] = {}
    heights: dict[Stage, float] = {}
    y = 12.0
    for stage in plan.rows:
        lines = len(plan.stays[stage]) + (stage is here)
        tops[stage], heights[stage] = y, HEAD + LINE * lines + PAD
        below = [w for e, w in straight.items() if e[0] is stage]
        y += heights[stage] + max(36, 16 * sum(map(len, below)) + 20)
    ports = _ports(plan, lanes, tops, heights)
    parts = [_box(stage, tops[stage], heights[stage], plan, language, here) for stage in plan.rows]
    for (src, dst), words in straight.items():
        parts.append(_down(tops[src] + heights[src], tops[dst], words))
    for edge, lane in lanes.items():
        parts.append(_around(edge, LANE_X + LANE_GAP * lane, ports, plan.moves[edge]))
    width = max(WIDTH, LANE_X + LANE_GAP * len(set(lanes.values())) + 8)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {y:.0f}" width="100%" '
        f'role="img" aria-labelledby="diagram-title diagram-desc" font-size="13" fill="{INK}">'
        f'<title id="diagram-title">{escape(PAGE["diagram"].text(language))}</title>'
        f'<desc id="diagram-desc">{escape(PAGE["diagram_desc"].text(language))}</desc>'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        f'fill="{INK}"/></marker></defs>{"".join(parts)}</svg>'
    )


def _ports(
    plan: Layout, lanes: dict[Edge, int], tops: dict[Stage, float], heights: dict[Stage, float]
) -> dict[tuple[Edge, Stage], float]:
    """Where each long arrow leaves or enters a box's right side (spread down the side)."""
    ends: dict[Stage, list[tuple[int, Edge]]] = defaultdict(list)
    for edge, lane in lanes.items():
        for stage in edge:
            ends[stage].append((lane, edge))
    ports = {}
    for stage, at in ends.items():
        for n, (_, edge) in enumerate(sorted(at)):
            ports[(edge, stage)] = tops[stage] + heights[stage] * (n + 1) / (len(at) + 1)
    return ports


def _box(
    stage: Stage, top: float, height: float, plan: Layout, language: str, here: Stage | None
) -> str:
    name = STAGES[stage].text(language)
    fill, line, weight = (HERE_FILL, HERE_LINE, 3) if stage is here else (BOX, "#555", 1.5)
    out = [
        f'<g id="stage-{stage.value}"><rect x="{BOX_X}" y="{top:.0f}" width="{BOX_W}" '
        f'height="{height:.0f}" rx="6" fill="{fill}" stroke="{line}" stroke-width="{weight}"/>',
        _text(BOX_X + 10, top + 20, name, font_size=15, font_weight="bold"),
    ]
    y = top + HEAD + 8
    if stage is here:
        out.append(_text(BOX_X + 10, y, "▶ " + PAGE["here"].text(language), fill=HERE_LINE))
        y += LINE
    for words in plan.stays[stage]:
        out.append(_text(BOX_X + 14, y, "↻ " + words))
        y += LINE
    return "".join(out) + "</g>"


def _down(bottom: float, top: float, words: list[str]) -> str:
    x = BOX_X + BOX_W / 2
    arrow = (
        f'<line x1="{x:.0f}" y1="{bottom:.0f}" x2="{x:.0f}" y2="{top - 1:.0f}" stroke="{INK}" '
        'stroke-width="1.5" marker-end="url(#arrow)"/>'
    )
    labels = [_text(x + 8, bottom + 17 + 16 * i, w) for i, w in enumerate(words)]
    return arrow + "".join(labels)


def _around(
    edge: Edge, lane_x: float, ports: dict[tuple[Edge, Stage], float], words: list[str]
) -> str:
    src, dst = edge
    y1, y2, right = ports[(edge, src)], ports[(edge, dst)], BOX_X + BOX_W
    path = (
        f'<path d="M{right},{y1:.0f} H{lane_x:.0f} V{y2:.0f} H{right + 1}" fill="none" '
        f'stroke="{INK}" stroke-width="1.5" marker-end="url(#arrow)"/>'
    )
    label = _text(
        lane_x + 11,
        (y1 + y2) / 2,
        " / ".join(words),
        writing_mode="vertical-rl",
        text_anchor="middle",
    )
    return path + label
