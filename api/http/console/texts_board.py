"""The words of the advisor's sign-off page and the secretary's board, in zh-CN and en."""

from __future__ import annotations

from cases.procedure.policy import Label


def _t(zh_cn: str, en: str) -> Label:
    return Label.model_validate({"zh-CN": zh_cn, "en": en})


TEXTS_BOARD: dict[str, Label] = {
    "nav.signoff": _t("待我审签", "To sign off"),
    "nav.board": _t("督办看板", "Board"),
}
