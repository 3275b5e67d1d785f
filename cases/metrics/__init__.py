"""The figures the committee is judged by (述职考评: 工作完成率, 同学满意度, 工作作风), computed
from the cases' timelines (their audit chains) alone, each with its definition in zh-CN and en.

``events`` holds the plain inputs, ``timeline`` reads one case's events into its stage visits,
``compute`` turns events into figures (pure), ``definitions`` says what each figure is, and
``service`` reads the events for a scope in one query.
"""
