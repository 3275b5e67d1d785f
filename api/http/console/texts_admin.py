"""The words of the console's admin pages (units, people, relationships, tokens) and the
operators' outbox page, in zh-CN and en."""

from __future__ import annotations

from cases.procedure.policy import Label


def _t(zh_cn: str, en: str) -> Label:
    return Label.model_validate({"zh-CN": zh_cn, "en": en})


TEXTS_ADMIN: dict[str, Label] = {
    "nav.admin": _t("系统管理", "Administration"),
}
