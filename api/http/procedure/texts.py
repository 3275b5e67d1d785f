"""The words of the procedure page, in zh-CN (the default) and en, as ``Label``s.

Stages and actions read as ``cases.procedure.labels`` says; what is new here is who may act
(one text per ``Who`` of the guards module, by its name), each guard and branch condition,
and the page's own texts. A name missing here fails the page's test, not a visitor.
"""

from __future__ import annotations

from cases.procedure.policy import Label


def _t(zh_cn: str, en: str) -> Label:
    return Label.model_validate({"zh-CN": zh_cn, "en": en})


WHO: dict[str, Label] = {
    "triage": _t("本单位的调查人员或团委书记", "an investigator or the secretary of the unit"),
    "case_assignee": _t(
        "本案承办人（受理阶段：调查人员或团委书记）",
        "a person assigned to the case (at intake: an investigator or the secretary)",
    ),
    "secretary": _t("团委书记", "the committee secretary"),
    "case_investigator": _t("本案调查人员", "an investigator assigned to the case"),
    "case_verifier": _t("本案核实人员", "the verifier assigned to the case"),
    "case_advisor": _t("被反映人所在组织的指导教师", "the advisor of the subject's organisation"),
    "case_subject": _t("被反映人本人", "the subject of the case"),
    "investigator_or_subject": _t(
        "本案调查人员或被反映人本人", "an assigned investigator or the subject"
    ),
    "investigator_or_secretary": _t(
        "本案调查人员或团委书记", "an assigned investigator or the secretary"
    ),
    "advisor_or_cosigner": _t(
        "指导教师；待会签时为团委书记",
        "the advisor, or the secretary when a co-signature is awaited",
    ),
    "appeal_decider": _t(
        "指定的申诉复查人（未指定时为团委书记）",
        "the assigned appeal reviewer (or the secretary if none is assigned)",
    ),
}

GUARDS: dict[str, Label] = {
    "actor_not_party": _t(
        "反映人和被反映人不得办理本人的案件",
        "the reporter and the subject may not handle their own case",
    ),
    "verifier_did_not_investigate": _t(
        "核实人员未参与本案调查", "the verifier did not investigate the case"
    ),
    "advisor_not_investigator": _t(
        "签署的指导教师未参与本案调查或核实",
        "the signing advisor neither investigated nor verified the case",
    ),
    "cosigner_did_not_investigate": _t(
        "会签的团委书记未参与本案调查或核实",
        "the co-signing secretary neither investigated nor verified the case",
    ),
    "reviewer_took_no_part": _t(
        "申诉复查人此前未参与本案", "the appeal reviewer took no earlier part in the case"
    ),
    "decider_not_requester": _t(
        "延期申请不得由申请人本人决定",
        "the extension is not decided by the person who asked for it",
    ),
    "statement_pending": _t("被反映人尚未陈述申辩", "the subject's statement is still awaited"),
    "statement_period_ended": _t("陈述申辩期限已届满", "the subject's statement period has ended"),
    "statement_recorded_or_waived": _t(
        "已记录陈述申辩，或期满视为放弃",
        "the statement is recorded, or waived after its period",
    ),
    "nothing_proposed": _t("尚未提出处理意见", "no disposition is proposed yet"),
    "proposal_pending": _t("已提出处理意见", "a disposition is proposed"),
    "proposal_awaits_advisor": _t(
        "处理意见已提出、尚待指导教师签署",
        "a disposition is proposed and awaits the advisor's signature",
    ),
    "proposal_awaits_cosign": _t(
        "处理意见已经指导教师签署，按规定须团委书记会签",
        "the advisor signed a sanction that policy says the secretary co-signs",
    ),
    "within_appeal_window": _t("仍在申诉期内", "the appeal window is still open"),
    "appeal_window_ended": _t("申诉期已届满", "the appeal window has ended"),
    "no_extension_pending": _t(
        "没有待团委书记决定的延期申请", "no extension request is waiting for the secretary"
    ),
    "extensions_left": _t(
        "本阶段延期次数未达规定上限", "this stage has extensions left under the policy"
    ),
    "extension_pending": _t("有待决定的延期申请", "an extension has been requested"),
}

CONDITIONS: dict[str, Label] = {
    "needs_cosign": _t(
        "处理意见按规定须团委书记会签", "the sanction needs the secretary's co-signature"
    ),
}

PAGE: dict[str, Label] = {
    "title": _t("办理程序", "The procedure"),
    "lead": _t(
        "本页由系统的流转规则表直接生成：每个阶段可以进行的操作、由谁进行、须满足的条件，"
        "以及操作后进入的阶段。规则改变时本页随之改变。",
        "This page is generated from the system's own transition table: in each stage, "
        "the actions allowed, who may take them, the conditions that must hold, and where "
        "each leads. When the rules change, so does this page.",
    ),
    "public": _t(
        "本程序是委员会的办理规则，任何人（包括学生）均可查阅。",
        "The procedure is the committee's rules: anyone, students included, may read it.",
    ),
    "diagram": _t("流程图", "Diagram"),
    "diagram_desc": _t(
        "方框为阶段，箭头为使阶段改变的操作；方框内“↻”所列操作不改变阶段。",
        "Boxes are stages, arrows the actions that change the stage; actions marked ↻ "
        "inside a box keep the case in its stage.",
    ),
    "here": _t("本案所在阶段", "this case is here"),
    "table": _t("全部规则", "Every rule"),
    "col.stage": _t("阶段", "Stage"),
    "col.action": _t("操作", "Action"),
    "col.who": _t("由谁进行", "Who may act"),
    "col.guards": _t("条件", "Conditions"),
    "col.to": _t("之后进入", "Leads to"),
    "stay": _t("阶段不变", "stays in this stage"),
    "when": _t(
        "若{condition}：{then}；否则：{otherwise}", "if {condition}: {then}; otherwise: {otherwise}"
    ),
    "no_guards": _t("无", "none"),
    "sod": _t("（回避规定）", " (separation of duties)"),
    "unknown_stage": _t("没有这个阶段：", "There is no such stage: "),
    "json": _t("机器可读版本（JSON）", "Machine-readable version (JSON)"),
}
