"""The words of the console's admin pages (units, people, relationships, tokens) and the
operators' outbox page, in zh-CN and en."""

from __future__ import annotations

from cases.procedure.policy import Label


def _t(zh_cn: str, en: str) -> Label:
    return Label.model_validate({"zh-CN": zh_cn, "en": en})


TEXTS_ADMIN: dict[str, Label] = {
    "nav.admin": _t("系统管理", "Administration"),
    "admin.nav.units": _t("组织机构", "Units"),
    "admin.nav.people": _t("人员", "People"),
    "admin.nav.relationships": _t("利害关系", "Relationships"),
    "admin.nav.tokens": _t("访问令牌", "Tokens"),
    "admin.nav.outbox": _t("发送失败的通知", "Failed notifications"),
    "admin.role.investigator": _t("调查人员", "investigator"),
    "admin.role.verifier": _t("核实人员", "verifier"),
    "admin.role.advisor": _t("指导教师", "advisor"),
    "admin.role.secretary": _t("书记", "secretary"),
    "admin.role.admin": _t("系统管理员", "admin"),
    "admin.role.reporter": _t("反映人", "reporter"),
    "admin.role.subject": _t("被反映人", "subject"),
    "admin.language.zh-CN": _t("简体中文", "Simplified Chinese"),
    "admin.language.en": _t("英文", "English"),
    # units
    "admin.units.heading": _t("组织机构", "Units"),
    "admin.units.none": _t("还没有任何单位。", "No units yet."),
    "admin.units.import": _t("导入组织机构", "Import units"),
    "admin.units.import_lead": _t(
        "与命令 qingfeng units import 使用同一种文件：CSV（列：code、name_zh、name_en、"
        "parent）或 YAML（单位列表）。已有代码的单位更新名称和上级；有任何错误则一个也不导入。",
        "The same file as `qingfeng units import`: CSV (columns code, name_zh, name_en, "
        "parent) or YAML (a list of units). Units whose code exists get the new names and "
        "parent; on any error nothing is imported.",
    ),
    "admin.units.file": _t("文件", "File"),
    "admin.units.file_hint": _t(
        ".csv、.yaml 或 .yml，UTF-8 编码，不超过 1 MB。",
        ".csv, .yaml or .yml, UTF-8, at most 1 MB.",
    ),
    "admin.units.submit": _t("导入", "Import"),
    "admin.units.no_file": _t("请选择要导入的文件。", "Choose the file to import."),
    "admin.units.failed": _t(
        "未导入任何单位。问题：{detail}", "Nothing was imported. The problem: {detail}"
    ),
    "admin.units.imported": _t(
        "已导入：读取 {read} 个单位，其中新增 {created} 个。",
        "Imported: {read} units read, {created} of them new.",
    ),
    # people
    "admin.people.heading": _t("人员", "People"),
    "admin.people.search": _t("按用户名或姓名查找", "Find by user name or name"),
    "admin.people.search_go": _t("查找", "Find"),
    "admin.people.found": _t("找到 {count} 人（“{q}”）。", "{count} found for '{q}'."),
    "admin.people.all": _t("显示全部", "Show everyone"),
    "admin.people.none": _t("没有符合条件的人员。", "Nobody matches."),
    "admin.people.unit": _t("所在单位", "Unit"),
    "admin.people.roles": _t("角色", "Roles"),
    "admin.people.role": _t("角色", "Role"),
    "admin.people.email": _t("电子邮箱", "Email"),
    "admin.people.phone": _t("电话", "Phone"),
    "admin.people.name": _t("姓名", "Name"),
    "admin.people.handle": _t("用户名（工号或学号）", "User name (staff or student number)"),
    "admin.people.handle_hint": _t(
        "与统一身份认证的账号一致，保存后不能修改。",
        "The same as the single sign-on account; it cannot be changed later.",
    ),
    "admin.people.language": _t("通知语言", "Language of notices"),
    "admin.people.state": _t("状态", "State"),
    "admin.people.active": _t("在用", "Active"),
    "admin.people.inactive": _t("已停用", "Deactivated"),
    "admin.people.no_unit": _t("（不属于任何单位）", "(no unit)"),
    "admin.people.no_role": _t("（暂不授予角色）", "(no role for now)"),
    "admin.people.role_needs_unit": _t(
        "授予角色时请选择所在单位：角色在该单位及其下级单位有效。",
        "Choose a unit with the role: it holds over that unit and all below it.",
    ),
    "admin.people.add": _t("新增人员", "Add a person"),
    "admin.people.add_submit": _t("新增", "Add"),
    "admin.people.back": _t("← 返回人员列表", "← Back to people"),
    # one person
    "admin.person.contacts": _t("联系方式", "Contact details"),
    "admin.person.clear_hint": _t("留空即删除。", "Leave empty to remove it."),
    "admin.person.save": _t("保存", "Save"),
    "admin.person.no_roles": _t("没有角色。", "No roles."),
    "admin.person.revoke": _t("撤销", "Revoke"),
    "admin.person.grant": _t("授予角色", "Grant a role"),
    "admin.person.over_unit": _t("适用单位（含下级）", "Over unit (and all below it)"),
    "admin.person.grant_submit": _t("授予", "Grant"),
    "admin.person.deactivate": _t("停用账号", "Deactivate"),
    "admin.person.deactivate_lead": _t(
        "停用后此人不能再登录，其访问令牌失效；记录保留。",
        "A deactivated person can no longer sign in and their tokens stop working; "
        "the records stay.",
    ),
    "admin.person.deactivate_submit": _t("停用", "Deactivate"),
    "admin.person.done.added": _t("已新增。", "Added."),
    "admin.person.done.updated": _t("联系方式已保存。", "Contact details saved."),
    "admin.person.done.granted": _t("角色已授予。", "Role granted."),
    "admin.person.done.revoked": _t("角色已撤销。", "Role revoked."),
    "admin.person.done.deactivated": _t("账号已停用。", "Deactivated."),
    # relationships
    "admin.rel.heading": _t("利害关系", "Declared relationships"),
    "admin.rel.lead": _t(
        "登记的两人（如室友、亲属）不会被指派办理对方的案件。",
        "Two people recorded here (roommates, relatives…) are never assigned to each "
        "other's cases.",
    ),
    "admin.rel.none": _t("还没有登记。", "None declared yet."),
    "admin.rel.person": _t("一方", "Person"),
    "admin.rel.other": _t("另一方", "Other person"),
    "admin.rel.kind": _t("关系", "Relationship"),
    "admin.rel.kind_hint": _t("如：室友、亲属、导师与学生。", "E.g. roommates, relatives."),
    "admin.rel.declared": _t("登记时间", "Declared"),
    "admin.rel.add": _t("登记利害关系", "Declare a relationship"),
    "admin.rel.person_handle": _t("一方的用户名", "One person's user name"),
    "admin.rel.other_handle": _t("另一方的用户名", "The other person's user name"),
    "admin.rel.submit": _t("登记", "Declare"),
    "admin.rel.added": _t("已登记。", "Declared."),
    # tokens
    "admin.tokens.heading": _t("访问令牌", "API tokens"),
    "admin.tokens.lead": _t(
        "所有人员的个人访问令牌（含已吊销的）。系统不记录令牌最近使用时间。",
        "Every person's access tokens, revoked ones too. When a token was last used "
        "is not recorded.",
    ),
    "admin.tokens.owner": _t("所属人员", "Owner"),
    # outbox
    "outbox.heading": _t("发送失败的通知", "Failed notifications"),
    "outbox.lead": _t(
        "多次重试仍未送达、已停止发送的通知。排除故障后可重新发送。",
        "Notifications that failed every attempt and were set aside. Once the fault is "
        "fixed, send them again.",
    ),
    "outbox.none": _t("没有发送失败的通知。", "No failed notifications."),
    "outbox.notice": _t("通知", "Notice"),
    "outbox.attempts": _t("已尝试次数", "Attempts"),
    "outbox.created": _t("生成时间", "Created"),
    "outbox.error": _t("最后的错误", "Last error"),
    "outbox.retry": _t("重新发送", "Send again"),
    "outbox.retried": _t(
        "通知 #{id} 已重新排队发送。", "Notification #{id} is queued to be sent again."
    ),
    "outbox.not_dead": _t(
        "通知 #{id} 未能重新发送（可能已有人处理）。{detail}",
        "Notification #{id} was not queued again (someone may have done so). {detail}",
    ),
    "outbox.more": _t("下一页", "Next page"),
    # errors beside the field
    "admin.err.handle_taken": _t("已有人使用这个用户名。", "Someone already has this user name."),
    "admin.err.self": _t("不能停用自己的账号。", "You cannot deactivate yourself."),
    "admin.err.unknown_person": _t("没有这个用户名的人员。", "Nobody has this user name."),
    "admin.err.role_held": _t(
        "此人已在该单位担任这个角色。", "They already hold this role over this unit."
    ),
    "admin.err.own_admin": _t(
        "不能撤销自己的系统管理员角色。", "You cannot take your own admin role away."
    ),
    "admin.err.role_not_held": _t(
        "此人在该单位没有这个角色。", "They hold no such role over this unit."
    ),
    "admin.err.unknown_unit": _t("没有这个单位。", "There is no such unit."),
    "admin.err.email": _t(
        "请填写有效的电子邮箱，如 name@example.edu.cn。",
        "Not an email address: write it like name@example.edu.cn.",
    ),
    "admin.err.phone": _t(
        "电话号码为 5 至 20 位数字，只能含 +、- 和空格。",
        "A phone number has 5 to 20 digits, with + - and spaces only.",
    ),
    "admin.err.name": _t("姓名为 1 至 100 个字。", "A name has 1 to 100 characters."),
    "admin.err.language": _t("请选择简体中文或英文。", "Choose Simplified Chinese or English."),
    "admin.err.related": _t(
        "两人不能是同一人，且尚未登记过关系。",
        "The two must be different people, not already recorded as related.",
    ),
    "admin.err.other": _t("无法完成：{detail}", "Cannot do this: {detail}"),
}
