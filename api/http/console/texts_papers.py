"""The words of the case page's papers (the decision notice), in zh-CN and en."""

from __future__ import annotations

from cases.procedure.policy import Label


def _t(zh_cn: str, en: str) -> Label:
    return Label.model_validate({"zh-CN": zh_cn, "en": en})


TEXTS_PAPERS: dict[str, Label] = {
    "case.decision_notice": _t("处理决定书（PDF）", "Decision notice (PDF)"),
}
