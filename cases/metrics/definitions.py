"""What each figure is, in zh-CN and en: shown next to the figure wherever it appears.

"In the period" means at a moment from 00:00 of its first day to 24:00 of its last
(Asia/Shanghai), and never later than the moment the figures are read ("the period's
end"). Only events of the cases in scope count. Staff stages are intake, investigation,
verification, disposition and appeal review (the appeal window is the subject's time).
A case's due time in a stage is counted from its entry by the policy (working days, to
``end_of_day``), replaced by any due time the timeline records (an extension granted, a
calendar recomputation, a ladder step fired past the due time).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cases.procedure.policy import Label


class Kind(StrEnum):
    """The shape of a figure's value."""

    COUNT = "count"  # an integer
    RATE = "rate"  # {numerator, denominator, rate} (rate None when nothing to divide)
    STAGE_RATES = "stage_rates"  # a rate per staff stage, and 'overall'
    STAGE_DAYS = "stage_days"  # working days per staff stage (None: no stage left)
    BREAKDOWN = "breakdown"  # counts by code
    MEAN = "mean"  # a number, None when nothing to average


@dataclass(frozen=True)
class Definition:
    code: str
    kind: Kind
    name: Label
    definition: Label  # what is counted
    computation: Label  # how the value is worked out


def _text(words: str, joiner: str) -> str:
    # A text wrapped over lines in the source reads as one paragraph: zh-CN lines are
    # joined as they are, en lines with a space.
    return joiner.join(line.strip() for line in words.strip().splitlines())


def _d(code: str, kind: Kind, *texts: tuple[str, str]) -> Definition:
    name, definition, computation = (
        Label.model_validate({"zh-CN": _text(zh, ""), "en": _text(en, " ")}) for zh, en in texts
    )
    return Definition(code, kind, name, definition, computation)


DEFINITIONS: dict[str, Definition] = {
    d.code: d
    for d in (
        _d(
            "reports_received",
            Kind.COUNT,
            ("收到举报", "reports received"),
            ("期间内收到的举报数。", "Reports filed in the period."),
            ("计数期间内的“收到举报”事件。", "Count of report-filed events in the period."),
        ),
        _d(
            "reports_accepted",
            Kind.COUNT,
            ("立案受理", "reports accepted"),
            ("期间内决定立案受理的举报数。", "Reports accepted (立案) in the period."),
            ("计数期间内的“立案受理”事件。", "Count of accept events in the period."),
        ),
        _d(
            "reports_declined",
            Kind.COUNT,
            ("不予受理", "reports declined"),
            ("期间内决定不予受理的举报数。", "Reports declined (不予受理) in the period."),
            ("计数期间内的“不予受理”事件。", "Count of decline events in the period."),
        ),
        _d(
            "cases_closed",
            Kind.COUNT,
            ("结案", "cases closed"),
            (
                """
                期间内结案的已立案案件数：申诉期届满结案或申诉复查决定后结案；不予受理的举报不计入此
                项。
                """,
                """
                Accepted cases closed in the period: at the end of the appeal window or by the
                appeal decision. Declined reports are not counted here.
                """,
            ),
            (
                "计数期间内的“结案”和“作出申诉复查决定”事件。",
                "Count of close and decide-appeal events in the period.",
            ),
        ),
        _d(
            "completion_rate",
            Kind.RATE,
            ("工作完成率", "completion rate"),
            (
                """
                期间内团委负有办理责任的案件（某一时刻处于受理、调查、核实、处理或申诉复查阶段）中，
                至期末已办结（已结案，或已作出处理决定、处于申诉期）的比例。
                """,
                """
                Of the cases on which the committee owed work at some moment in the period (in
                intake, investigation, verification, disposition or appeal review), the share whose
                work was done by the period's end (closed, or decided and in the subject's appeal
                window).
                """,
            ),
            (
                """
                分母：期间内在某一工作阶段停留过的案件数；分子：其中期末处于申诉期或已结案的案件数。
                比率 = 分子 ÷ 分母；分母为 0 时无比率。
                """,
                """
                Denominator: cases in a staff stage at some moment in the period; numerator: those
                in the appeal window or closed at the period's end. rate = numerator ÷ denominator;
                none when the denominator is 0.
                """,
            ),
        ),
        _d(
            "on_time_rate",
            Kind.STAGE_RATES,
            ("按期完成率", "on-time rate"),
            (
                """
                各工作阶段（及全部阶段合计）按期完成的比例：期间内离开该阶段的每一次停留，在到期时间
                之前（含）离开即为按期；期末仍在该阶段且到期时间在期间内已过的，计为未按期。
                """,
                """
                Per staff stage (and all together): each stay that left the stage in the period is
                on time when it left at or before its due time; a stay still open at the period's
                end whose due time passed within the period counts as late.
                """,
            ),
            (
                """
                分母：上述停留次数；分子：其中按期离开的次数。到期时间按政策自进入之日起计算的工作日
                （至当日下班时间），有延期批准、校历重算或逾期提醒记录的，以记录为准。比率 = 分子÷
                分母；分母为 0 时无比率。
                """,
                """
                Denominator: those stays; numerator: those left on time. The due time is counted
                from entry in the policy's working days (to end of day), replaced by a granted
                extension, a calendar recomputation or a past-due ladder step recorded on the
                timeline. rate = numerator ÷ denominator; none when the denominator is 0.
                """,
            ),
        ),
        _d(
            "stage_time_median",
            Kind.STAGE_DAYS,
            ("阶段用时中位数", "median time per stage"),
            (
                "期间内离开各工作阶段的停留，其用时（工作日）的中位数。",
                "Median working days of the stays that left each staff stage in the period.",
            ),
            (
                """
                某阶段的用时 = 进入该阶段之日（不含）至离开之日（含）之间的工作日数，同日离开为 0；
                按上海时区日期和工作日历计算。中位数：排序后居中的值，偶数个时取中间两值的平均。
                """,
                """
                A stage's time = working days after the day it was entered up to and including the
                day it was left (0: the same day), on Asia/Shanghai dates and the working-day
                calendar. Median: the middle value, the mean of the two middle ones for an even
                count.
                """,
            ),
        ),
        _d(
            "stage_time_p90",
            Kind.STAGE_DAYS,
            ("阶段用时第90百分位", "90th-percentile time per stage"),
            (
                "期间内离开各工作阶段的停留，其用时（工作日）的第90百分位数。",
                """
                90th percentile of the working days of the stays that left each staff stage in the
                period.
                """,
            ),
            (
                """
                某阶段的用时 = 进入该阶段之日（不含）至离开之日（含）之间的工作日数，同日离开为 0；
                按上海时区日期和工作日历计算。第90百分位：最近秩法，排序后第 ⌈0.9×n⌉ 个值。
                """,
                """
                A stage's time = working days after the day it was entered up to and including the
                day it was left (0: the same day), on Asia/Shanghai dates and the working-day
                calendar. 90th percentile by nearest rank: the ⌈0.9×n⌉-th value in order.
                """,
            ),
        ),
        _d(
            "overdue_now",
            Kind.COUNT,
            ("期末逾期", "overdue at the period's end"),
            (
                "期末处于工作阶段且已过该阶段到期时间的案件数。",
                "Cases in a staff stage at the period's end, past their due time in that stage.",
            ),
            (
                "到期时间早于期末的未离开停留计数（到期时间口径同“按期完成率”）。",
                """
                Count of open stays whose due time is before the period's end (due time as for the
                on-time rate).
                """,
            ),
        ),
        _d(
            "verification_returns",
            Kind.COUNT,
            ("核实退回", "returns from verification"),
            (
                "期间内核实人将调查结论退回补充调查的次数。",
                "Times in the period a verifier returned findings to investigation.",
            ),
            (
                "计数期间内的“退回补充调查”事件（同一案件多次退回分别计数）。",
                "Count of return-findings events in the period (each return of a case counts).",
            ),
        ),
        _d(
            "extensions_requested",
            Kind.COUNT,
            ("申请延期", "extensions asked"),
            ("期间内提出的延期申请数。", "Extension requests made in the period."),
            ("计数期间内的“申请延期”事件。", "Count of request-extension events in the period."),
        ),
        _d(
            "extensions_granted",
            Kind.COUNT,
            ("批准延期", "extensions granted"),
            ("期间内团委书记批准的延期数。", "Extensions the secretary granted in the period."),
            ("计数期间内的“批准延期”事件。", "Count of grant-extension events in the period."),
        ),
        _d(
            "appeals_lodged",
            Kind.COUNT,
            ("提出申诉", "appeals lodged"),
            ("期间内被反映人提出的申诉数。", "Appeals the subjects lodged in the period."),
            ("计数期间内的“提出申诉”事件。", "Count of appeal events in the period."),
        ),
        _d(
            "appeal_outcomes",
            Kind.BREAKDOWN,
            ("申诉复查结果", "appeal outcomes"),
            (
                "期间内作出的申诉复查决定，按维持、变更、撤销分列。",
                "Appeal decisions made in the period, by outcome: upheld, changed, overturned.",
            ),
            (
                "按结果计数期间内的“作出申诉复查决定”事件。",
                "Count of decide-appeal events in the period by their outcome.",
            ),
        ),
        _d(
            "satisfaction_mean",
            Kind.MEAN,
            ("同学满意度", "reporter satisfaction"),
            (
                "期间内反映人提交的满意度评价（1 至 5 分）的平均分。",
                "Mean of the satisfaction ratings (1 to 5) reporters gave in the period.",
            ),
            (
                "期间内评价分数之和 ÷ 评价数；没有评价时无值。",
                "Sum of the period's ratings ÷ their number; none without ratings.",
            ),
        ),
        _d(
            "satisfaction_distribution",
            Kind.BREAKDOWN,
            ("满意度分布", "satisfaction distribution"),
            (
                "期间内各分值（1 至 5 分）的评价数。",
                "Ratings given in the period at each score, 1 to 5.",
            ),
            ("按分数计数期间内的满意度评价事件。", "Count of the period's rating events by score."),
        ),
        _d(
            "satisfaction_response_rate",
            Kind.RATE,
            ("满意度评价回复率", "survey response rate"),
            (
                """
                期间内结案的已立案案件中，反映人至期末已作出满意度评价的比例。每件举报的反映人都持有
                查询码，结案时均被邀请评价；不予受理的举报不邀请评价，不计入。
                """,
                """
                Of the accepted cases closed in the period, the share whose reporter had rated the
                handling by the period's end. Every reporter holds a receipt code and is invited to
                rate at closure; declined reports are not invited and not counted.
                """,
            ),
            (
                """
                分母：“结案”口径的案件数；分子：其中至期末有满意度评价的案件数。比率 = 分子 ÷ 分母；
                分母为 0 时无比率。
                """,
                """
                Denominator: the cases counted as closed; numerator: those rated by the period's
                end. rate = numerator ÷ denominator; none when the denominator is 0.
                """,
            ),
        ),
        _d(
            "reports_by_category",
            Kind.BREAKDOWN,
            ("反映该单位工作人员的举报（按类别）", "reports about the unit's staff, by category"),
            (
                """
                期间内收到的、被反映人属于该单位的举报，按立案时认定的类别分列；至期末未立案（待受理
                或不予受理）的计入“uncategorised”。
                """,
                """
                Reports filed in the period about the unit's staff, by the category set on
                acceptance; those not accepted by the period's end (awaiting intake or declined)
                under 'uncategorised'.
                """,
            ),
            (
                "按类别计数期间内的“收到举报”事件。",
                "Count of the period's report-filed events by the case's category.",
            ),
        ),
        _d(
            "work_style_reports",
            Kind.BREAKDOWN,
            ("其中工作作风问题", "work-style reports among them"),
            (
                """
                上项中属于工作作风类别的举报：圈子等级、精致利己、形式主义官僚主义，及其合计（total
                ）。
                """,
                """
                Of those, the work-style categories: cliques and rank-pulling, self-serving conduct,
                formalism and bureaucratism, and their total.
                """,
            ),
            (
                "取“按类别”中的三个类别及其和。",
                "The three categories of the breakdown by category and their sum.",
            ),
        ),
        _d(
            "substantiated_findings",
            Kind.BREAKDOWN,
            ("查实问题", "substantiated findings"),
            (
                """
                期间内作出最终决定的案件中，调查结论为属实或部分属实、且未在申诉中被撤销的案件数（只
                计已作出最终决定的案件）。
                """,
                """
                Cases decided for good in the period whose findings were substantiated or partly
                substantiated and not overturned on appeal (only decided cases count against
                anyone).
                """,
            ),
            (
                """
                最终决定：申诉期届满结案，或作出申诉复查决定。按最后一次提交的调查结论分列，另计合计
                （total）。
                """,
                """
                Decided for good: closed at the end of the appeal window, or by the appeal decision.
                Counted by the last findings submitted, with their total.
                """,
            ),
        ),
        _d(
            "final_dispositions",
            Kind.BREAKDOWN,
            ("最终处理结果", "final dispositions"),
            (
                """
                期间内作出最终决定的案件的最终处理决定，按处理种类分列；申诉撤销原决定的计入“overtur
                ned”。
                """,
                """
                The disposition in force in the cases decided for good in the period, by kind; a
                decision overturned on appeal under 'overturned'.
                """,
            ),
            (
                """
                处理决定取指导教师签署（需会签的取团委书记会签）时的处理意见，申诉变更的取变更后的决
                定。
                """,
                """
                The disposition signed off (co-signed where required), or the one an appeal changed
                it to.
                """,
            ),
        ),
    )
}

# The figures of the whole scope, and those of each student-union unit (述职考评).
SCOPE_FIGURES = tuple(DEFINITIONS)[:17]
UNIT_FIGURES = (
    "reports_by_category",
    "work_style_reports",
    "substantiated_findings",
    "final_dispositions",
    "completion_rate",
    "satisfaction_mean",
)


def definition(code: str) -> Definition:
    """The definition of figure ``code``; a figure without one is a KeyError, not a blank."""
    return DEFINITIONS[code]
