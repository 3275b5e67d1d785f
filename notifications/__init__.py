"""Notification delivery: from outbox rows to e-mail, WeCom, DingTalk, Feishu and signed
webhooks, in zh-CN and en, exactly once per attempt, with retries and dead letters.
See docs/notifications.md."""
