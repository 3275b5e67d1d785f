"""The words of the advisor's sign-off page and the secretary's board, in zh-CN and en."""

from __future__ import annotations

from cases.procedure.policy import Label


def _t(zh_cn: str, en: str) -> Label:
    return Label.model_validate({"zh-CN": zh_cn, "en": en})


TEXTS_BOARD: dict[str, Label] = {
    "nav.signoff": _t("待我审签", "To sign off"),
    "nav.board": _t("督办看板", "Board"),
    "board.col_reference": _t("案件编号", "Case"),
    "board.col_unit": _t("单位", "Unit"),
    "board.col_stage": _t("环节", "Stage"),
    "board.col_due": _t("办理期限", "Due"),
    "board.col_disposition": _t("拟处理", "Proposed"),
    "signoff.overdue": _t("已超期", "overdue"),
    "signoff.expired": _t("页面已过期，请重试。", "The page expired: please try again."),
    "signoff.missing_heading": _t("找不到该页面", "Not found"),
    "signoff.missing": _t(
        "没有你可以查看的这个案件或页面。", "There is no such case or page that you can see."
    ),
    "signoff.back": _t("返回待我审签", "Back to the proposals to sign"),
    "signoff.heading": _t("待我审签的处理意见", "Proposals waiting for your sign-off"),
    "signoff.lead": _t(
        "你是以下案件的指导教师。请阅读调查结论与核实情况后签署同意，或写明理由退回。",
        "You are the advisor of these cases. Read the findings and the verification, then "
        "sign the proposal or refuse it with your reasons.",
    ),
    "signoff.none": _t(
        "目前没有等待你签署的处理意见。", "No proposal is waiting for your sign-off."
    ),
    "signoff.open": _t("查看并签署", "Read and sign"),
    "signoff.case_heading": _t("审签处理意见 {reference}", "Sign-off of {reference}"),
    "signoff.proposal": _t("拟作出的处理", "Proposed decision"),
    "signoff.no_proposal": _t("目前没有待签署的处理意见。", "No disposition is proposed now."),
    "signoff.rationale": _t("理由", "Rationale"),
    "signoff.needs_cosign": _t(
        "该处理在指导教师签署后，还须经团委书记会签。",
        "After the advisor signs, this disposition also needs the secretary's co-signature.",
    ),
    "signoff.signed": _t("指导教师已签署（{name}）。", "Signed by the advisor ({name})."),
    "signoff.recommended": _t("调查组建议", "Investigators recommended"),
    "signoff.findings": _t("调查结论", "Findings"),
    "signoff.result": _t("结论", "Result"),
    "signoff.summary": _t("概要", "Summary"),
    "signoff.no_findings": _t("尚无调查结论。", "No findings yet."),
    "signoff.verification": _t("核实情况", "Verification"),
    "signoff.confirmed": _t("{at}，{who} 核实确认。", "Confirmed by {who} on {at}."),
    "signoff.verifier_comment": _t("核实意见", "Verifier's comment"),
    "signoff.not_confirmed": _t("尚未核实确认。", "Not confirmed yet."),
    "signoff.no_returns": _t("核实中未退回补充调查。", "Never returned during verification."),
    "signoff.returns": _t(
        "退回补充调查 {count} 次", "Returned for more investigation {count} time(s)"
    ),
    "signoff.returned": _t("{at}，{who} 退回", "Returned by {who} on {at}"),
    "signoff.refusals": _t("此前退回的处理意见", "Earlier proposals refused"),
    "signoff.refused": _t(
        "{at}，{who} 退回“{disposition}”", "{who} refused '{disposition}' on {at}"
    ),
    "signoff.act": _t("签署", "Your decision"),
    "signoff.sign": _t("签署同意", "Sign off"),
    "signoff.sign_comment": _t("签署意见（可不填）", "Comment (optional)"),
    "signoff.refuse": _t("退回处理意见", "Refuse the proposal"),
    "signoff.refuse_comments": _t("退回理由", "Your reasons"),
    "signoff.refuse_hint": _t(
        "写明需要如何修改，办案人员据此重新提出处理意见。",
        "Say what should change: the handlers propose again from it.",
    ),
    "signoff.cosign": _t("会签", "Co-sign"),
    "signoff.cosign_comment": _t("会签意见（可不填）", "Comment (optional)"),
    "signoff.nothing": _t(
        "你现在不能对此案签署、会签或退回。", "There is nothing for you to sign or refuse here now."
    ),
    "signoff.done.sign_off": _t("已签署同意。", "You signed the proposal."),
    "signoff.done.refuse": _t("已退回处理意见。", "You refused the proposal."),
    "signoff.done.co_sign": _t("已会签。", "You co-signed the proposal."),
    "board.heading": _t("督办看板", "Secretary's board"),
    "board.overdue": _t("超期与督办案件", "Overdue and escalated cases"),
    "board.overdue_none": _t("没有超期案件。", "No case is overdue."),
    "board.escalation": _t("督办", "Escalation"),
    "board.flag_red": _t("红色警示", "red flag"),
    "board.cases": _t("{count} 件", "{count} case(s)"),
    "board.extensions": _t("待批延期申请", "Extension requests"),
    "board.extensions_none": _t("没有待批的延期申请。", "No extension request is waiting."),
    "board.requested_by": _t("申请人", "Asked by"),
    "board.reason": _t("理由", "Reason"),
    "board.asked_day": _t("申请延至", "Asked until"),
    "board.previous_due": _t("原期限", "Was due"),
    "board.new_day": _t("新的期限", "New due day"),
    "board.new_day_hint": _t("默认为申请的日期。", "The day asked for unless you change it."),
    "board.note": _t("批注（可不填）", "Note (optional)"),
    "board.grant": _t("批准延期", "Grant"),
    "board.refuse_reason": _t("不予延期的理由", "Reason for refusing"),
    "board.refuse": _t("不予延期", "Refuse"),
    "board.cosigns": _t("待会签", "Co-signatures waiting"),
    "board.cosigns_none": _t("没有待会签的处理意见。", "No proposal waits for a co-signature."),
    "board.signed_by": _t("指导教师", "Signed by"),
    "board.cosign_link": _t("查看并会签", "Read and co-sign"),
    "board.appeals": _t("待指派复查人的申诉", "Appeals to assign"),
    "board.appeals_none": _t("没有待指派复查人的申诉。", "No appeal waits for a reviewer."),
    "board.reviewer": _t("复查人工号", "Reviewer's staff number"),
    "board.override": _t(
        "利益冲突仍指派的理由（如有）", "Reason to assign despite a conflict (if any)"
    ),
    "board.assign": _t("指派复查人", "Assign reviewer"),
    "board.overrides": _t("利益冲突仍指派的记录", "Assignments despite a conflict of interest"),
    "board.overrides_none": _t("没有利益冲突仍指派的记录。", "No assignment overrode a conflict."),
    "board.at": _t("时间", "When"),
    "board.by": _t("指派人", "By"),
    "board.person": _t("被指派人", "Assigned"),
    "board.capacity": _t("身份", "As"),
    "board.override_reason": _t("理由", "Reason"),
    "board.done.grant_extension": _t("{reference} 已批准延期。", "{reference}: extension granted."),
    "board.done.refuse_extension": _t("{reference} 不予延期。", "{reference}: extension refused."),
    "board.done.assign": _t("{reference} 已指派复查人。", "{reference}: reviewer assigned."),
    "board.capacity_investigator": _t("调查人", "investigator"),
    "board.capacity_verifier": _t("核实人", "verifier"),
    "board.capacity_advisor": _t("指导教师", "advisor"),
    "board.capacity_appeal_reviewer": _t("复查人", "appeal reviewer"),
}
