"""The words of the people's pages, in zh-CN (the default) and en.

Each text is one ``Label`` (the same object the policy uses for its labels); templates
ask for a text by its key through ``t(key)``, in the page's language.
"""

from __future__ import annotations

from cases.procedure.policy import Label


def _t(zh_cn: str, en: str) -> Label:
    return Label.model_validate({"zh-CN": zh_cn, "en": en})


TEXTS: dict[str, Label] = {
    "site.title": _t("清风 · 学生会干部作风问题反映", "Qingfeng · student-union conduct reports"),
    "site.skip": _t("跳到正文", "Skip to content"),
    "site.language": _t("English", "中文"),
    "site.contact": _t("联系方式", "Contact"),
    "home.heading": _t("反映学生会干部作风问题", "Report a student-union officer's conduct"),
    "home.lead": _t(
        "如果你发现学生会工作人员存在圈子文化、等级观念、精致利己、形式主义、官僚主义等"
        "问题，可以在这里反映。可以匿名，我们按规定和程序及时处理，并对反映人信息严格保密。",
        "If a student-union officer shows cliques, rank-consciousness, self-seeking, "
        "formalism or bureaucratism, you can report it here, anonymously if you wish. "
        "Reports are handled by the rules and on time; who reported is kept confidential.",
    ),
    "home.report": _t("我要反映", "Make a report"),
    "home.status": _t("查询办理进度", "Follow a report"),
    "home.status_hint": _t(
        "提交后你会得到一个回执码，凭回执码查询进度、补充材料、与承办人沟通。",
        "After filing you get a receipt code: use it to follow the case, add evidence "
        "and exchange messages with the case team.",
    ),
    "report.heading": _t("反映问题", "Make a report"),
    "report.whom": _t("被反映人", "Whom the report is about"),
    "report.unit": _t("所在组织", "Their unit"),
    "report.unit_pick": _t("请选择", "Choose"),
    "report.subject_name": _t("姓名", "Name"),
    "report.subject_post": _t("职务", "Post"),
    "report.subject_post_hint": _t("如：部长、副主席", "e.g. head of department"),
    "report.subject_handle": _t("学号或工号（知道的话）", "Student or staff number (if known)"),
    "report.what": _t("反映内容", "What happened"),
    "report.category": _t("问题类别", "Kind of problem"),
    "report.category_none": _t("不确定", "Not sure"),
    "report.summary": _t("一句话概括", "In one sentence"),
    "report.details": _t("具体经过", "What happened, in detail"),
    "report.details_hint": _t(
        "写清时间、地点、经过和知情人，便于核实。", "Say when, where, what, and who saw it."
    ),
    "report.occurred": _t("发生时间", "When"),
    "report.place": _t("发生地点", "Where"),
    "report.you": _t("你的身份", "You"),
    "report.anonymous": _t("匿名反映（不留姓名）", "Stay anonymous (no name)"),
    "report.named": _t("实名反映", "Give my name"),
    "report.reporter_name": _t("你的姓名", "Your name"),
    "report.reporter_contact": _t(
        "联系方式（电话或邮箱，用于回复你）", "How to reach you (phone or e-mail)"
    ),
    "report.anonymous_hint": _t(
        "匿名也可以留联系方式，只用于联系你，不会告诉任何被反映人。",
        "Even anonymous, you may leave a contact: it is only used to reach you, "
        "never shown to the person reported.",
    ),
    "report.submit": _t("提交", "Submit"),
    "report.errors": _t("有几项需要修改，请看标出的地方。", "Some fields need changes: see below."),
    "report.required": _t("（必填）", "(required)"),
    "receipt.heading": _t("已收到你的反映", "Your report has been received"),
    "receipt.reference": _t("编号", "Reference"),
    "receipt.code": _t("回执码", "Receipt code"),
    "receipt.once": _t(
        "回执码只显示这一次，请抄下、截图或打印保存。凭它查询进度，不要告诉他人。",
        "The receipt code is shown only this once: copy, screenshot or print it. "
        "It opens your case: keep it to yourself.",
    ),
    "receipt.print": _t("打印回执", "Print the slip"),
    "receipt.next": _t("查询办理进度", "Follow your report"),
    "error.csrf": _t(
        "页面已过期，请返回重新提交（你填写的内容已保留）。",
        "The page expired: please submit again (what you wrote is kept).",
    ),
    "error.rate": _t(
        "提交太频繁，请稍后再试。如情况紧急，请直接联系我们。",
        "Too many reports just now: please try again later, or contact us directly.",
    ),
    "error.heading": _t("出错了", "Something went wrong"),
    "error.back": _t("返回", "Back"),
    "field.missing": _t("请填写此项。", "Please fill this in."),
    "field.too_long": _t("太长了，最多 {limit} 个字。", "Too long: at most {limit} characters."),
    "field.invalid": _t("这一项的内容不符合要求。", "This does not look right."),
}
