"""Settings (environment, prefix QINGFENG_) and the human-edited case-handling policy."""
