"""The words of the conduct-record lookup page (严格选拔), in zh-CN and en."""

from __future__ import annotations

from cases.procedure.policy import Label


def _t(zh_cn: str, en: str) -> Label:
    return Label.model_validate({"zh-CN": zh_cn, "en": en})


TEXTS_CONDUCT_RECORD: dict[str, Label] = {
    "nav.conduct_record": _t("查询处理记录", "Conduct records"),
    "record.heading": _t("学生会工作人员处理记录查询", "Conduct record lookup"),
    "record.lead": _t(
        "选拔、任用学生会工作人员前，查询其 {years} 年内经调查属实或部分属实、"
        "处理决定已生效的案件（申诉撤销的不计）。每次查询连同查询目的记入审计日志。",
        "Before appointing someone to student-union work, look up the cases of the last "
        "{years} years where the findings were substantiated (or partly) and the decision "
        "stands (decisions overturned on appeal do not count). Each lookup is audited with "
        "its purpose.",
    ),
    "record.person": _t("学号或用户名", "Student number or user name"),
    "record.person_hint": _t(
        "被举报时登记的学号（工作人员填用户名）。", "The student number (staff: their user name)."
    ),
    "record.purpose": _t("查询目的", "Purpose"),
    "record.purpose_hint": _t(
        "例如：拟任校学生会宣传部部长前的考察。",
        "For example: before appointing them as head of the publicity department.",
    ),
    "record.submit": _t("查询", "Look up"),
    "record.expired": _t("页面已过期，请重新提交。", "The page expired: please submit again."),
    "record.result": _t("查询结果", "Result"),
    "record.who": _t("查询对象", "Person"),
    "record.unit": _t("所在单位", "Unit"),
    "record.period": _t("查询期间", "Period searched"),
    "record.period_value": _t("{start} 至 {end}", "{start} to {end}"),
    "record.unknown": _t(
        "人员名录中没有学号（用户名）为 {identifier} 的人：没有案件以其为被举报人。请核对号码。",
        "Nobody in the directory has the number {identifier}: no case names them as its "
        "subject. Please check the number.",
    ),
    "record.none": _t(
        "查询期间内没有经调查属实、处理决定已生效的案件。",
        "No case in the period where the findings were substantiated and the decision stands.",
    ),
    "record.col_reference": _t("案件编号", "Case"),
    "record.col_unit": _t("单位", "Unit"),
    "record.col_category": _t("问题类别", "Category"),
    "record.col_disposition": _t("处理决定", "Disposition"),
    "record.col_effect": _t("生效日期", "Took effect"),
    "record.col_ends": _t("期满日期", "Period ends"),
    "record.col_status": _t("状态", "Status"),
    "record.partly": _t("（部分属实）", " (partly substantiated)"),
    "record.audited": _t(
        "本次查询已记入审计日志，被查询人所涉案件的办案人员看不到此记录。",
        "This lookup is in the audit trail; the teams of the person's cases do not see it.",
    ),
}
