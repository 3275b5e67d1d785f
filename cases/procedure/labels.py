"""What people read for the procedure's codes, in zh-CN and en: stages, and the events of a
case's timeline. One table for the pages, the notices and the Prefect artifact; a ladder
step's words come from the policy (its ``label``), so they are not repeated here."""

from __future__ import annotations

from cases.procedure.policy import Label, Policy
from cases.procedure.vocabulary import Action, Stage

LANGUAGES = ("zh-CN", "en")
DEADLINE_EVENT = "deadline."  # a fired ladder step's event: 'deadline.<step>'
SKIPPED = ".skipped"  # ... fired after its stage's due time moved past it


def _words(zh_cn: str, en: str) -> Label:
    # en is lower case: it reads mid-sentence.
    return Label.model_validate({"zh-CN": zh_cn, "en": en})


STAGES: dict[Stage, Label] = {
    Stage.INTAKE: _words("受理", "intake"),
    Stage.INVESTIGATION: _words("调查", "investigation"),
    Stage.VERIFICATION: _words("核实", "verification"),
    Stage.DISPOSITION: _words("处理", "disposition"),
    Stage.APPEAL_WINDOW: _words("申诉期", "appeal window"),
    Stage.APPEAL_REVIEW: _words("申诉复查", "appeal review"),
    Stage.CLOSED: _words("结案", "closed"),
}

# What each action, once taken, reads as on the timeline.
ACTIONS_DONE: dict[Action, Label] = {
    Action.ACCEPT: _words("立案受理", "accepted"),
    Action.DECLINE: _words("不予受理", "declined"),
    Action.ASSIGN: _words("指派承办人", "assigned"),
    Action.RECORD_EVIDENCE: _words("登记证据", "evidence recorded"),
    Action.RECORD_INTERVIEW: _words("记录谈话", "interview recorded"),
    Action.RECORD_STATEMENT: _words("记录陈述申辩", "statement recorded"),
    Action.WAIVE_STATEMENT: _words("视为放弃陈述申辩", "statement waived"),
    Action.SUBMIT_FINDINGS: _words("提交调查结论", "findings submitted"),
    Action.CONFIRM: _words("核实确认", "findings confirmed"),
    Action.RETURN_FINDINGS: _words("退回补充调查", "findings returned"),
    Action.PROPOSE: _words("提出处理意见", "disposition proposed"),
    Action.SIGN_OFF: _words("指导教师签署", "signed off"),
    Action.REFUSE: _words("指导教师退回处理意见", "proposal refused"),
    Action.CO_SIGN: _words("团委书记会签", "co-signed"),
    Action.APPEAL: _words("提出申诉", "appeal lodged"),
    Action.DECIDE_APPEAL: _words("作出申诉复查决定", "appeal decided"),
    Action.CLOSE: _words("结案", "closed"),
    Action.REQUEST_EXTENSION: _words("申请延期", "extension requested"),
    Action.GRANT_EXTENSION: _words("批准延期", "extension granted"),
    Action.REFUSE_EXTENSION: _words("不予延期", "extension refused"),
}

# Events that are not a staff action.
OTHER_EVENTS: dict[str, Label] = {
    "case.filed": _words("收到举报", "report filed"),
    "triage.checked": _words("初筛（重复与缺项检查）", "triage checked"),
    "deadline.recomputed": _words("校历调整，期限重算", "deadline recomputed"),
    "action.refused": _words("操作被拒绝", "action refused"),
    "case.read": _words("查阅案卷", "case read"),
    "case.read_by_reporter": _words("举报人查询进展", "progress looked up by the reporter"),
    "subject_link.issued": _words("向被举报人发出查阅链接", "link issued to the subject"),
    "subject_link.revoked": _words("撤销被举报人查阅链接", "subject's links withdrawn"),
    "subject_notice.handed_over": _words("当面送达告知书", "notice handed to the subject"),
    "evidence.downloaded": _words("下载证据文件", "evidence file downloaded"),
    "person.updated": _words("更新人员信息", "person updated"),
    "message.from_reporter": _words("举报人留言", "message from the reporter"),
    "message.to_reporter": _words("办案人员回复", "reply to the reporter"),
    "survey.answered": _words("满意度评价", "satisfaction survey answered"),
    "evidence.added_by_reporter": _words("举报人补充证据", "evidence added by the reporter"),
    "decision_notice.issued": _words("印发处理决定书", "decision notice issued"),
    "decision_notice.downloaded": _words("下载处理决定书", "decision notice downloaded"),
    "case.casefile_exported": _words("导出案卷", "case file exported"),
    "person.conduct_record_looked_up": _words("查询处理记录", "conduct record looked up"),
}


def stage_label(stage: str, language: str) -> str:
    """The stage's name in ``language`` (the code itself for an unknown one)."""
    words = STAGES.get(Stage(stage)) if stage in Stage._value2member_map_ else None
    return words.text(language) if words else stage


def event_label(code: str, language: str, policy: Policy) -> str:
    """What the timeline says for the event ``code`` (the code itself for an unknown one)."""
    if code.startswith(DEADLINE_EVENT) and code != "deadline.recomputed":
        step = code.removeprefix(DEADLINE_EVENT).removesuffix(SKIPPED)
        entry = next((s for s in policy.escalation if s.step == step), None)
        name = entry.label.text(language) if entry and entry.label else step
        if code.endswith(SKIPPED):
            return f"{name}（已跳过）" if language != "en" else f"{name} (skipped)"
        return name
    action = code.removeprefix("case.")
    if code.startswith("case.") and action in Action._value2member_map_:
        return ACTIONS_DONE[Action(action)].text(language)
    words = OTHER_EVENTS.get(code)
    return words.text(language) if words else code
