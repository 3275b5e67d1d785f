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
    # The subject's page (/s, /subject) and the printed hand-over notice.
    "subject.heading": _t("关于你的案件", "The case about you"),
    "subject.lead": _t(
        "有人反映了与你有关的问题。你有权知道反映的内容和认定的事实，有权陈述申辩，"
        "对处理决定不服的，有权申诉。本页不会显示反映人的任何信息。",
        "Someone reported a concern about you. You have the right to know what is alleged "
        "and the facts relied on, to give your statement, and to appeal the decision. "
        "This page never shows who reported.",
    ),
    "subject.reference": _t("编号", "Reference"),
    "subject.stage": _t("当前环节", "Where it stands"),
    "subject.category": _t("问题类别", "Kind of problem"),
    "subject.allegations": _t("反映的问题", "What is alleged"),
    "subject.pending": _t(
        "尚待受理，受理后会告知你具体内容。", "Not yet taken up; you will be told."
    ),
    "subject.findings": _t("认定的事实", "The facts relied on"),
    "subject.result_substantiated": _t("反映问题属实", "The report was found true"),
    "subject.result_partly_substantiated": _t(
        "反映问题部分属实", "The report was found partly true"
    ),
    "subject.result_unsubstantiated": _t("反映问题不属实", "The report was found untrue"),
    "subject.evidence": _t("证据清单", "The evidence"),
    "subject.statement": _t("陈述申辩", "Your statement"),
    "subject.statement_due": _t("请在此时间前提交", "Please give it by"),
    "subject.statement_hint": _t(
        "写下你对反映问题的说明和理由，可以补充事实、提出知情人。提交后不能修改。",
        "Say what you want the committee to know: facts, reasons, who else knows. "
        "It cannot be changed once given.",
    ),
    "subject.statement_field": _t("你的陈述和申辩", "Your statement"),
    "subject.statement_submit": _t("提交陈述申辩", "Give my statement"),
    "subject.statement_given": _t("已记录的陈述申辩", "Your statement as recorded"),
    "subject.statement_waived": _t(
        "陈述申辩期限已过，视为放弃。", "The statement period ended: taken as waived."
    ),
    "subject.decision": _t("处理决定", "The decision"),
    "subject.decided_at": _t("决定时间", "Decided on"),
    "subject.appeal_right": _t(
        "对处理决定不服的，可以在 {ends} 前提出申诉。",
        "If you disagree with the decision you may appeal until {ends}.",
    ),
    "subject.appeal": _t("申诉", "Appeal"),
    "subject.grounds": _t("申诉理由", "Grounds of appeal"),
    "subject.grounds_hint": _t("写明你不服的地方和理由。", "Say what you disagree with, and why."),
    "subject.appeal_submit": _t("提交申诉", "Lodge my appeal"),
    "subject.appeal_lodged": _t("已提出申诉，正在复查。", "Your appeal is under review."),
    "subject.appeal_outcome": _t("申诉复查结果", "Outcome of the appeal"),
    "subject.outcome_uphold": _t("维持原处理决定", "decision upheld"),
    "subject.outcome_change": _t("变更处理决定", "decision changed"),
    "subject.outcome_overturn": _t("撤销原处理决定", "decision overturned"),
    "subject.events": _t("办理经过", "What has happened"),
    "subject.stale": _t(
        "案件在你打开本页后有了新进展，请看下面的最新情况后再提交（你写的内容已保留）。",
        "The case moved on since you opened this page: read it again below, then submit "
        "(what you wrote is kept).",
    ),
    "subject.refused": _t(
        "现在不能提交：期限可能已过，或已经提交过。如有疑问请联系我们。",
        "This cannot be taken now: the period may have ended, or it was already given. "
        "Contact us if in doubt.",
    ),
    "subject.done_statement": _t("已收到你的陈述申辩。", "Your statement has been recorded."),
    "subject.done_appeal": _t("已收到你的申诉。", "Your appeal has been lodged."),
    "subject.gone_heading": _t("链接无法打开", "This link does not open"),
    "subject.gone": _t(
        "链接可能已过期、已被收回或不完整。请使用最新通知中的链接，或输入告知书上的验证码。",
        "The link may have expired, been withdrawn or be incomplete. Use the link in your "
        "latest notice, or type the code on your printed notice.",
    ),
    "subject.code_heading": _t("输入告知书上的验证码", "Type the code on your notice"),
    "subject.code": _t("验证码（8 位）", "Code (8 characters)"),
    "subject.code_hint": _t(
        "字母不分大小写，可以不输入空格。", "Capitals or not; spaces may be left out."
    ),
    "subject.code_submit": _t("打开", "Open"),
    "subject.code_wrong": _t(
        "验证码不正确或已失效。", "This code is wrong, or it no longer opens a case."
    ),
    "subject.continue": _t("继续", "Continue"),
    "subject.code_wait": _t(
        "尝试次数过多，请 {seconds} 秒后再试。", "Too many tries: please wait {seconds} s."
    ),
    "subject.files": _t("附件（可不上传）", "Attachments (optional)"),
    "subject.files_hint": _t(
        "最多 {count} 个文件，每个不超过 {mb} MB，可以是：{types}。附件只交给办案人员。",
        "Up to {count} files of at most {mb} MB each, of these kinds: {types}. "
        "Only the case's staff receive them.",
    ),
    "subject.files_too_many": _t(
        "最多只能上传 {count} 个文件。", "At most {count} files can be attached."
    ),
    "subject.file_too_large": _t(
        "文件太大：每个文件最多 {mb} MB，本案所有文件合计最多 {case_mb} MB。",
        "Too large: at most {mb} MB a file and {case_mb} MB for all of the case's files.",
    ),
    "subject.file_type": _t(
        "不接受这种文件（按文件内容判断），请上传：{types}。",
        "This kind of file is not accepted (told by its content); send one of: {types}.",
    ),
    "subject.files_sent": _t("你上传的附件", "The files you attached"),
    "notice.heading": _t(
        "陈述申辩及申诉权利告知书", "Notice of your right to be heard and to appeal"
    ),
    "notice.to": _t("致", "To"),
    "notice.body": _t(
        "有人反映了与你有关的问题。你可以用下面的链接或验证码查看反映的问题和认定的事实，"
        "在规定期限内提交陈述申辩；作出处理决定后，可以在申诉期内提出申诉。",
        "A concern about you has been reported. With the link or the code below you can "
        "read what is alleged and the facts relied on, give your statement within its "
        "period and, once decided, appeal within the appeal window.",
    ),
    "notice.link": _t("链接", "Link"),
    "notice.code": _t("验证码（在 {url} 输入）", "Code (type it at {url})"),
    "notice.expires": _t("有效期至", "Valid until"),
    "notice.number": _t("告知书编号", "Notice number"),
    "notice.keep": _t("请妥善保管，不要交给他人。", "Keep it to yourself."),
    "status.heading": _t("查询办理进度", "Follow a report"),
    "status.lead": _t(
        "输入提交时得到的回执码。回执码不会出现在网址里。",
        "Enter the receipt code you got when filing. It never appears in an address.",
    ),
    "status.hint": _t("16 位字母和数字，可不输入短横线", "16 letters and digits; dashes optional"),
    "status.submit": _t("查询", "Look up"),
    "status.unknown": _t(
        "没有找到与这个回执码对应的反映，请核对后再试。",
        "No report matches this code: please check it and try again.",
    ),
    "status.wait": _t(
        "尝试次数过多，请 {seconds} 秒后再试。", "Too many tries: please wait {seconds} s."
    ),
    "status.of": _t("反映 {reference} 的办理情况", "Report {reference}"),
    "status.where": _t("目前进展", "Where it stands"),
    "status.filed": _t("提交日期", "Filed on"),
    "status.due": _t("本阶段办理期限", "Due by"),
    "status.outcome": _t("办理结果", "Outcome"),
    "status.decision": _t("处理决定", "Decision"),
    "status.private": _t(
        "请勿把回执码告诉他人；用完请关闭本页。",
        "Keep the receipt code to yourself; close this page when done.",
    ),
    "status.another": _t("查询其他反映", "Look up another"),
    "status.visit_over": _t(
        "为保护你的信息，页面已超时关闭，请重新输入回执码。",
        "To protect you, the page closed after a while: enter the receipt code again.",
    ),
    "status.done_message": _t("留言已发送。", "Your message was sent."),
    "status.done_evidence": _t("材料已上传。", "The file was added."),
    "status.done_survey": _t("感谢你的评价！", "Thank you for your rating."),
    "status.too_large": _t("文件太大，超过了允许的大小。", "The file is larger than allowed."),
    "status.wrong_type": _t(
        "只能上传图片、PDF、常见办公文档或录音。",
        "Only images, PDF, common office documents or audio can be added.",
    ),
    "status.not_now": _t(
        "现在不能这样做，页面已更新为最新情况。", "That is not possible now: see the page as it is."
    ),
    "status.messages": _t("与承办人员的沟通", "Messages with the case team"),
    "status.no_messages": _t("还没有留言。", "No messages yet."),
    "status.you_wrote": _t("你", "You"),
    "status.team_wrote": _t("承办人员", "Case team"),
    "status.write": _t("给承办人员留言", "Write to the case team"),
    "status.message_hint": _t(
        "承办人员回复后会显示在这里；实名反映且留了邮箱的，会收到提醒邮件。",
        "Answers appear here; if you gave your name and an e-mail address, you get a reminder.",
    ),
    "status.send": _t("发送", "Send"),
    "status.wait_answer": _t(
        "你已连续留言多条，请等待承办人员回复后再留言。",
        "You have written several messages in a row: please wait for an answer.",
    ),
    "status.evidence": _t("补充证据材料", "Add evidence"),
    "status.added": _t("你已补充的材料", "What you added"),
    "status.file": _t("文件", "File"),
    "status.evidence_hint": _t(
        "图片、PDF、办公文档或录音，单个不超过 {mb} MB。匿名反映的照片会去除位置等信息。",
        "Images, PDF, office documents or audio, up to {mb} MB each. Location data is "
        "removed from photos of anonymous reports.",
    ),
    "status.description": _t("说明（可不填）", "What it shows (optional)"),
    "status.add": _t("上传", "Add"),
    "status.survey": _t("满意度评价", "Rate how your report was handled"),
    "status.survey_lead": _t(
        "你的评价只提交一次，将计入校团委工作考评。",
        "You can rate once; ratings count in the committee's annual review.",
    ),
    "status.score": _t("满意程度", "How satisfied are you?"),
    "status.score_1": _t("1 很不满意", "1 very dissatisfied"),
    "status.score_2": _t("2 不满意", "2 dissatisfied"),
    "status.score_3": _t("3 一般", "3 neither"),
    "status.score_4": _t("4 满意", "4 satisfied"),
    "status.score_5": _t("5 很满意", "5 very satisfied"),
    "status.comment": _t("意见和建议（可不填）", "Comments (optional)"),
    "status.rate": _t("提交评价", "Send rating"),
    "status.rated": _t("你已评价过，感谢参与。", "You have rated this case: thank you."),
    "survey.heading": _t("满意度评价", "Rate the handling of your report"),
    "survey.lead": _t(
        "输入提交时得到的回执码，即可对已办结的反映进行评价。",
        "Enter your receipt code to rate the handling of a closed report.",
    ),
    "report.evidence": _t("证据材料（可多选，可不传）", "Evidence files (optional, several)"),
    "report.evidence_hint": _t(
        "图片、PDF、办公文档或录音，最多 {count} 个，单个不超过 {mb} MB；匿名反映的照片会去除"
        "位置等信息。若提交未成功，请重新选择文件。",
        "Images, PDF, office documents or audio: up to {count} files of {mb} MB each. "
        "Location data is removed from photos of anonymous reports. If the form comes back "
        "with an error, choose the files again.",
    ),
    "report.file_too_large": _t(
        "有文件超过 {mb} MB，请压缩后再传，或提交后在查询页补充。",
        "A file is over {mb} MB: make it smaller, or add it from the status page later.",
    ),
    "report.files_too_large": _t(
        "文件合计超过 {mb} MB，请少传几个，其余可在提交后补充。",
        "The files come to more than {mb} MB: send fewer now and add the rest later.",
    ),
}
