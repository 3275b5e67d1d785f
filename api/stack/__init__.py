"""The process stack of `qingfeng up`: the API server, in-process services and the
supervised children (Prefect server, stage runner, notifier)."""
