"""The words of the staff console, in zh-CN (the default) and en.

The same ``Label`` pattern as the people's pages (api/http/pages/texts.py); a console
template asks for a key through ``t(key)``, and keys not here (the site's header and
footer) come from the pages' texts."""

from __future__ import annotations

from api.http.console.texts_admin import TEXTS_ADMIN
from api.http.console.texts_board import TEXTS_BOARD
from api.http.console.texts_case import TEXTS_CASE
from api.http.console.texts_conduct_record import TEXTS_CONDUCT_RECORD
from api.http.console.texts_figures import TEXTS_FIGURES
from api.http.console.texts_papers import TEXTS_PAPERS
from cases.procedure.policy import Label


def _t(zh_cn: str, en: str) -> Label:
    return Label.model_validate({"zh-CN": zh_cn, "en": en})


TEXTS: dict[str, Label] = {
    "console.title": _t("清风 · 工作台", "Qingfeng · staff console"),
    "nav.inbox": _t("我的待办", "My inbox"),
    "nav.account": _t("我的账号", "My account"),
    "nav.signout": _t("退出登录", "Sign out"),
    "signin.heading": _t("工作人员登录", "Staff sign-in"),
    "signin.lead": _t(
        "本页供办理案件的工作人员使用。反映问题请回到首页。",
        "For the staff who handle cases. To make a report, go back to the home page.",
    ),
    "signin.handle": _t("工号或用户名", "Staff number or user name"),
    "signin.password": _t("密码", "Password"),
    "signin.submit": _t("登录", "Sign in"),
    "signin.or": _t("或使用学校统一身份认证", "Or use the university's single sign-on"),
    "signin.wrong": _t("用户名或密码不正确。", "Wrong user name or password."),
    "signin.wait": _t(
        "尝试次数过多，请 {seconds} 秒后再试。",
        "Too many attempts: please wait {seconds} seconds and try again.",
    ),
    "signin.expired": _t("页面已过期，请重新登录。", "The page expired: please sign in again."),
    "signin.signed_out": _t("你已退出登录。", "You have signed out."),
    "signin.again": _t("请先登录。", "Please sign in first."),
    "sso.heading": _t("无法登录", "Cannot sign you in"),
    "sso.unknown": _t(
        "统一身份认证确认了你的身份（{handle}），但本系统中没有该账号的在职工作人员，"
        "或账号已停用。请联系校团委办公室开通。",
        "Single sign-on confirmed who you are ({handle}), but no active staff member here "
        "has that account, or it is disabled. Ask the committee's office to add you.",
    ),
    "sso.failed": _t(
        "统一身份认证没有确认你的身份，或登录已超时。请重新登录。",
        "Single sign-on did not confirm who you are, or the sign-in took too long. "
        "Please sign in again.",
    ),
    "sso.unavailable": _t(
        "暂时无法连接统一身份认证服务，请稍后再试或使用密码登录。",
        "The single sign-on service cannot be reached now: try again later or use your password.",
    ),
    "sso.back": _t("返回登录页", "Back to sign-in"),
    "inbox.heading": _t("我的待办", "My inbox"),
    "inbox.hello": _t("你好，{name}。", "Hello, {name}."),
    "account.heading": _t("我的账号", "My account"),
    "account.who": _t("账号", "Account"),
    "account.tokens": _t("个人访问令牌", "Personal access tokens"),
    "account.tokens_lead": _t(
        "令牌用于通过接口（API）办理，与你本人权限相同。不用时请吊销。",
        "A token lets a program use the API as you, with your permissions. Revoke the "
        "ones you no longer use.",
    ),
    "account.none": _t("还没有令牌。", "No tokens yet."),
    "account.token_name": _t("名称", "Name"),
    "account.token_id": _t("编号", "Id"),
    "account.token_created": _t("创建时间", "Created"),
    "account.token_state": _t("状态", "State"),
    "account.live": _t("有效", "Active"),
    "account.revoked": _t("已吊销", "Revoked"),
    "account.revoke": _t("吊销", "Revoke"),
    "account.new": _t("新建令牌", "New token"),
    "account.new_name_hint": _t(
        "写明用途，如“数据导出脚本”。", "Say what it is for, e.g. 'export script'."
    ),
    "account.create": _t("创建", "Create"),
    "account.created": _t("新令牌（只显示这一次）", "Your new token (shown only this once)"),
    "account.created_hint": _t(
        "请立即复制保存。它不会再次显示；遗失请吊销后重新创建。",
        "Copy it now: it is never shown again. If it is lost, revoke it and make another.",
    ),
    "account.revoked_done": _t("令牌 {token} 已吊销。", "Token {token} is revoked."),
    "account.no_token": _t("你没有这个令牌。", "You have no such token."),
    "account.expired": _t("页面已过期，请重试。", "The page expired: please try again."),
}
TEXTS |= TEXTS_BOARD
TEXTS |= TEXTS_ADMIN
TEXTS |= TEXTS_CASE
TEXTS |= TEXTS_CONDUCT_RECORD
TEXTS |= TEXTS_PAPERS
TEXTS |= TEXTS_FIGURES
