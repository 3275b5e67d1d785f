"""The case file (案卷) as a PDF: the report, the parties, the evidence list with each item's
SHA-256, statements and interviews, findings, verification, decision, sign-offs, appeal and
the full timeline, in zh-CN. An anonymous reporter is named nowhere in it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cases.papers.pdf import Paper
from cases.procedure.clock import local_text
from cases.procedure.labels import event_label, stage_label
from cases.procedure.policy import Entry, Policy
from cases.procedure.vocabulary import Action
from cases.store.models import AuditEvent, ConductCase, Interview, Unit

ZH = "zh-CN"
NONE = "—"
CASEFILE_EVENT = "case.casefile_exported"
# Words for the codes the case file prints that the labels table does not have.
CAPACITIES = {
    "subject": "被举报人",
    "reporter": "举报人",
    "triage": "初筛",
    "investigator": "调查人员",
    "verifier": "核实人员",
    "advisor": "指导教师",
    "cosigner": "团委书记（会签）",
    "appeal_reviewer": "申诉复查人员",
}
WORDS = {
    "pending": "待陈述",
    "recorded": "已陈述",
    "waived": "视为放弃",
    "substantiated": "属实",
    "partly_substantiated": "部分属实",
    "unsubstantiated": "不属实",
    "uphold": "维持原处理",
    "change": "变更处理",
    "overturn": "撤销处理",
}
# The event data the timeline prints beside an event (the rest is in audit.jsonl).
SHOWN_DATA = {
    "stage": "进入",
    "person": "人员",
    "capacity": "身份",
    "disposition": "处理",
    "result": "结论",
    "outcome": "复查结果",
    "evidence": "证据",
}


@dataclass(frozen=True)
class EvidenceEntry:
    n: int  # its number in the list (the timeline's events name items by their id)
    item_id: int
    description: str
    member: str | None  # its name in the archive; None: no stored file
    sha256: str
    media_type: str | None
    size_bytes: int | None
    collected_on: str | None
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True)
class PartyEntry:
    capacity: str
    person: str
    active: bool
    override: str | None


@dataclass(frozen=True)
class CaseRecord:
    """Everything the case file prints, read in the export's transaction."""

    case: ConductCase
    unit: Unit
    subject: str
    reporter: str | None  # a named reporter's name and contact; None when anonymous
    reporter_contact: str | None
    parties: list[PartyEntry]
    evidence: list[EvidenceEntry]
    interviews: list[Interview]
    events: list[AuditEvent]
    actors: dict[int | None, str]  # who each event's actor is, as the file names them
    exported_by: str
    exported_at: datetime
    committee: str
    key_fingerprint: str


def _heading(paper: Paper, text: str) -> None:
    """A section heading, on a new page when too little of this one is left."""
    if paper.will_page_break(40):
        paper.add_page()
    paper.heading(text)


def _when(moment: datetime | None) -> str:
    return local_text(moment) if moment else NONE


def _label(entries: list[Entry] | list[Any], code: str | None) -> str:
    found = next((e for e in entries if e.code == code), None)
    return found.label.text(ZH) if found else (code or NONE)


def _word(code: str | None) -> str:
    return WORDS.get(code or "", code or NONE)


def casefile_pdf(record: CaseRecord, policy: Policy) -> bytes:
    """The case file's PDF."""
    case = record.case
    paper = Paper(
        title=f"案卷 {case.reference}",
        footer=f"{record.committee} · 案卷 {case.reference}",
        created=record.exported_at,
    )
    paper.title_block(f"{record.committee}\n案卷")
    _cover(paper, record, policy)
    _report(paper, record)
    _parties(paper, record)
    _evidence(paper, record)
    _statements(paper, record)
    _findings(paper, record, policy)
    _verification(paper, record, policy)
    _decision(paper, record, policy)
    _sign_offs(paper, record, policy)
    _appeal(paper, record, policy)
    _timeline(paper, record, policy)
    _integrity(paper, record)
    return paper.to_bytes()


def _cover(paper: Paper, record: CaseRecord, policy: Policy) -> None:
    case = record.case
    paper.fields(
        [
            ("案件编号", case.reference),
            ("所属单位", record.unit.name_zh),
            ("问题类别", _label(policy.categories, case.category)),
            ("严重程度", _label(policy.severities, case.severity)),
            ("当前阶段", stage_label(case.stage, ZH)),
            ("收到举报", _when(case.filed_at)),
            ("结案时间", _when(case.closed_at)),
            ("导出", f"{_when(record.exported_at)}，{record.exported_by}"),
        ]
    )
    paper.paragraph("时间均为北京时间。", align="L")


def _report(paper: Paper, record: CaseRecord) -> None:
    case = record.case
    _heading(paper, "一、举报内容")
    reporter = "匿名举报（举报人身份不予记载）" if case.anonymous else (record.reporter or NONE)
    rows = [
        ("举报人", reporter),
        ("被举报人", record.subject),
        ("职务", case.subject_post or NONE),
        ("发生时间", case.occurred or NONE),
        ("发生地点", case.place or NONE),
        ("摘要", case.summary),
    ]
    if not case.anonymous:
        rows.insert(1, ("联系方式", record.reporter_contact or NONE))
    paper.fields(rows)
    paper.paragraph(f"举报详情：{case.details}")
    if case.allegations:
        paper.paragraph(f"办案人员归纳的问题：{case.allegations}")


def _parties(paper: Paper, record: CaseRecord) -> None:
    _heading(paper, "二、当事人及办案人员")
    rows = [
        [
            CAPACITIES.get(p.capacity, p.capacity),
            p.person,
            "在办" if p.active else "已撤换",
            p.override or NONE,
        ]
        for p in record.parties
    ]
    paper.table_of(["身份", "姓名（账号）", "状态", "回避例外说明"], rows, widths=(2, 4, 1, 3))


def _evidence(paper: Paper, record: CaseRecord) -> None:
    _heading(paper, "三、证据清单")
    if not record.evidence:
        paper.paragraph("无。")
        return
    rows = [
        [
            str(e.n),
            e.description,
            e.member or "（无文件，仅登记哈希）",
            f"{e.size_bytes} 字节" if e.size_bytes is not None else NONE,
            e.collected_on or NONE,
            f"{_when(e.recorded_at)} {e.recorded_by}",
        ]
        for e in record.evidence
    ]
    paper.table_of(
        ["序号", "说明", "压缩包内文件", "大小", "取得日期", "登记"],
        rows,
        widths=(1, 3, 4, 2, 2, 4),
    )
    paper.table_of(["序号", "SHA-256"], [[str(e.n), e.sha256] for e in record.evidence],
                   widths=(1, 9), size=9)  # fmt: skip


def _statements(paper: Paper, record: CaseRecord) -> None:
    case = record.case
    _heading(paper, "四、陈述申辩与谈话记录")
    paper.fields(
        [
            ("陈述申辩", _word(case.statement_state)),
            ("陈述期限", _when(case.statement_due_at)),
        ]
    )
    if case.statement_text:
        paper.paragraph(f"被举报人陈述：{case.statement_text}")
    if record.interviews:
        rows = [[i.held_on, i.interviewee, i.summary] for i in record.interviews]
        paper.table_of(["谈话日期", "谈话对象", "内容摘要"], rows, widths=(2, 2, 6))


def _findings(paper: Paper, record: CaseRecord, policy: Policy) -> None:
    case = record.case
    _heading(paper, "五、调查结论")
    paper.fields(
        [
            ("结论", _word(case.findings_result)),
            ("建议处理", _label(policy.dispositions, case.recommended_disposition)),
            ("退回补充调查", f"{case.returns_count} 次"),
        ]
    )
    if case.findings_summary:
        paper.paragraph(f"调查情况：{case.findings_summary}")


def _acts(paper: Paper, record: CaseRecord, policy: Policy, actions: tuple[Action, ...]) -> None:
    """The events of ``actions``: when, what, who, and what they wrote."""
    codes = {f"case.{a}" for a in actions}
    rows = []
    for event in (e for e in record.events if e.action in codes):
        data = json.loads(event.data)
        said = "；".join(
            str(data[k]) for k in ("comment", "comments", "reasons", "note") if data.get(k)
        )
        rows.append(
            [
                _when(event.at),
                event_label(event.action, ZH, policy),
                record.actors.get(event.actor_id, NONE),
                said or NONE,
            ]
        )
    if rows:
        paper.table_of(["时间", "事项", "经办人", "意见"], rows, widths=(3, 3, 3, 5))
    else:
        paper.paragraph("无。")


def _verification(paper: Paper, record: CaseRecord, policy: Policy) -> None:
    _heading(paper, "六、核实")
    _acts(paper, record, policy, (Action.CONFIRM, Action.RETURN_FINDINGS))


def _decision(paper: Paper, record: CaseRecord, policy: Policy) -> None:
    case = record.case
    _heading(paper, "七、处理决定")
    decided = policy.disposition(case.decision or "")
    basis = decided.basis if decided and decided.basis else policy.papers.basis
    period = f"{decided.period_months} 个月" if decided and decided.period_months else NONE
    paper.fields(
        [
            ("处理意见", _label(policy.dispositions, case.proposed_disposition)),
            ("处理决定", _label(policy.dispositions, case.decision)),
            ("决定时间", _when(case.decided_at)),
            ("依据", basis.text(ZH)),
            ("处分期限", period),
        ]
    )
    if case.proposal_rationale:
        paper.paragraph(f"理由：{case.proposal_rationale}")


def _sign_offs(paper: Paper, record: CaseRecord, policy: Policy) -> None:
    case = record.case
    _heading(paper, "八、签署")
    paper.fields(
        [
            ("指导教师签署", record.actors.get(case.advisor_signed_by, NONE)),
            ("团委书记会签", record.actors.get(case.cosigned_by, NONE)),
        ]
    )
    acts = (Action.PROPOSE, Action.SIGN_OFF, Action.REFUSE, Action.CO_SIGN)
    _acts(paper, record, policy, acts)


def _appeal(paper: Paper, record: CaseRecord, policy: Policy) -> None:
    case = record.case
    _heading(paper, "九、申诉")
    paper.fields(
        [
            ("申诉期届满", _when(case.appeal_window_ends_at)),
            ("申诉理由", case.appeal_grounds or "未提出申诉"),
            ("复查结果", _word(case.appeal_outcome) if case.appeal_outcome else NONE),
        ]
    )
    _acts(paper, record, policy, (Action.APPEAL, Action.DECIDE_APPEAL))


def _detail(data: dict[str, Any], policy: Policy, numbers: dict[int, int]) -> str:
    """The event's data worth a line, in words: stage, person, disposition, result..."""
    parts = []
    for key, word in SHOWN_DATA.items():
        value = data.get(key)
        if value in (None, "", []):
            continue
        if key == "stage":
            shown = stage_label(str(value), ZH)
        elif key == "disposition":
            shown = _label(policy.dispositions, str(value))
        elif key == "capacity":
            shown = CAPACITIES.get(str(value), str(value))
        elif key == "evidence":
            listed = value if isinstance(value, list) else [value]
            shown = "、".join(f"第 {numbers.get(v, v)} 项" for v in listed)
        else:
            shown = _word(str(value))
        parts.append(f"{word}：{shown}")
    return "；".join(parts) or NONE


def _timeline(paper: Paper, record: CaseRecord, policy: Policy) -> None:
    _heading(paper, "十、全程记录")
    numbers = {e.item_id: e.n for e in record.evidence}
    rows = [
        [
            str(e.seq),
            _when(e.at),
            WORDS.get(e.action) or event_label(e.action, ZH, policy),
            record.actors.get(e.actor_id, NONE),
            _detail(json.loads(e.data), policy, numbers),
        ]
        for e in record.events
    ]
    paper.table_of(
        ["序号", "时间", "事项", "经办人", "说明"], rows, widths=(1, 3, 4, 3, 4), size=8.5
    )


def _integrity(paper: Paper, record: CaseRecord) -> None:
    head = record.events[-1]
    _heading(paper, "十一、完整性")
    paper.paragraph(
        "本案卷与证据文件、审计记录（audit.jsonl）一并打包；manifest.json 记载每个文件的 "
        "SHA-256，并以本委员会的案卷签名密钥签名。本次导出记入审计链其后一条，见 audit.jsonl "
        "与 manifest.json。离线校验：qingfeng casefile verify 压缩包。",
        align="L",
    )
    paper.fields(
        [
            ("审计链", head.chain),
            ("本案卷记录截至", f"第 {head.seq} 条"),
            ("该条哈希", head.hash),
            ("签名密钥指纹", record.key_fingerprint),
        ]
    )
