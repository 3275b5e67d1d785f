"""The words of the secretary's figures page (/console/figures), in zh-CN and en."""

from __future__ import annotations

from cases.procedure.policy import Label


def _t(zh_cn: str, en: str) -> Label:
    return Label.model_validate({"zh-CN": zh_cn, "en": en})


_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
_QUARTERS = ("1–3", "4–6", "7–9", "10–12")
_QUARTERS_EN = ("Jan–Mar", "Apr–Jun", "Jul–Sep", "Oct–Dec")
_ORDINALS = "一二三四"

TEXTS_FIGURES: dict[str, Label] = {
    "nav.figures": _t("统计图表", "Figures"),
    "figures.heading": _t("工作统计", "Performance figures"),
    "figures.lead": _t(
        "按期间和单位查看团委的工作指标（述职考评）。所有数字均由案件办理记录计算，"
        "每项指标旁附其口径。",
        "The committee's figures (述职考评) for a period and a unit, all worked out from the "
        "cases' records; each figure is shown beside what it counts.",
    ),
    "figures.choose": _t("选择期间和单位", "Choose the period and unit"),
    "figures.year": _t("年份", "Year"),
    "figures.part": _t("期间", "Period"),
    "figures.whole_year": _t("全年", "Whole year"),
    "figures.unit": _t("单位（含下属单位）", "Unit (and sub-units)"),
    "figures.all_units": _t("全部单位", "All units"),
    "figures.show": _t("查看", "Show"),
    "figures.no_unit": _t("没有代码为 {unit} 的单位。", "No unit has the code {unit}."),
    "figures.period": _t("{first} 至 {last}", "{first} to {last}"),
    "figures.as_of": _t("（数据截至 {as_of}）", " (as of {as_of})"),
    "figures.scope_all": _t("范围：全部单位。", "Scope: all units."),
    "figures.scope_unit": _t("范围：{unit}及其下属单位。", "Scope: {unit} and the units under it."),
    "figures.download": _t("下载数据", "Download the data"),
    "figures.json_figures": _t("各项指标（JSON）", "The figures (JSON)"),
    "figures.json_charts": _t("图表数据（JSON）", "The charts' numbers (JSON)"),
    "figures.api_note": _t(
        "指标文件与接口 GET {path} 的返回相同；程序可携带个人访问令牌直接调用该接口。",
        "The figures file is what GET {path} answers; a program can call it with a personal "
        "access token.",
    ),
    "figures.headline": _t("主要指标", "Headline figures"),
    "figures.how": _t("计算方法", "How it is worked out"),
    "figures.overall": _t("全部阶段", "all stages"),
    "figures.rate": _t(
        "{percent}（{numerator}/{denominator}）", "{percent} ({numerator}/{denominator})"
    ),
    "figures.no_rate": _t("无（{denominator}/0）", "none ({denominator}/0)"),
    "figures.days": _t("{days} 个工作日", "{days} working days"),
    "figures.score": _t("{score} 分", "score {score}"),
    "figures.outcome.uphold": _t("维持", "upheld"),
    "figures.outcome.change": _t("变更", "changed"),
    "figures.outcome.overturn": _t("撤销", "overturned"),
    "figures.charts": _t("图表", "Charts"),
    "figures.entries": _t("每月进入各阶段的案件数", "Cases entering each stage, per month"),
    "figures.entries_about": _t(
        "期间内每个月（上海时区）进入各阶段的案件数；同一案件在一个月内多次进入同一阶段只计一次。"
        "进入“受理”即收到举报，进入“结案”含不予受理。",
        "Per month of the period (Asia/Shanghai), the cases that entered each stage; a case "
        "entering a stage twice in a month counts once. Entering intake is a report received; "
        "entering closed includes the declined reports.",
    ),
    "figures.days_chart": _t("各工作阶段用时分布", "Time spent in each staff stage"),
    "figures.days_about": _t(
        "期间内离开各工作阶段的每一次停留，按用时（工作日）分组计数；用时口径同“阶段用时中位数”。",
        "Each stay that left a staff stage in the period, counted by the working days it took "
        "(as for the median time per stage).",
    ),
    "figures.units_chart": _t("各单位按期完成率", "On-time rate per unit"),
    "figures.units_about": _t(
        "各单位（仅本单位的案件，不含下属单位）全部工作阶段的按期完成率，口径同“按期完成率”。",
        "Each unit's on-time rate over all staff stages (its own cases, not those of the units "
        "under it), as for the on-time rate figure.",
    ),
    "figures.col_stage": _t("阶段", "Stage"),
    "figures.col_days": _t("用时（工作日）", "Working days"),
    "figures.col_total": _t("合计", "Total"),
    "figures.col_unit": _t("单位", "Unit"),
    "figures.col_on_time": _t("按期完成率（按期/应计）", "On time (on time/counted)"),
    "figures.no_units": _t("期间内没有可计的案件。", "No cases to count in the period."),
    "figures.swipe": _t(
        "屏幕较窄时可左右滑动查看全部月份。", "On a narrow screen, swipe sideways for every month."
    ),
    "figures.chart_note": _t(
        "图中数字与下表相同。", "The chart's numbers are those of the table below."
    ),
}
for _n in range(1, 13):
    TEXTS_FIGURES[f"figures.m{_n:02d}"] = _t(f"{_n}月", _MONTHS_EN[_n - 1])
    TEXTS_FIGURES[f"figures.short.m{_n:02d}"] = _t(f"{_n}月", _MONTHS_EN[_n - 1][:3])
for _n in range(1, 5):
    TEXTS_FIGURES[f"figures.q{_n}"] = _t(
        f"第{_ORDINALS[_n - 1]}季度（{_QUARTERS[_n - 1]}月）", f"Q{_n} ({_QUARTERS_EN[_n - 1]})"
    )
