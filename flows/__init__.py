"""Orchestration: the Prefect `case-stage` flow and its runner, the dispatcher and
reconciler that keep Prefect in step with the outbox, the embedded Prefect server, and
the APScheduler-woken deadline worker. The database holds the truth; these carry it on.
"""
