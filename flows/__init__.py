"""Orchestration: the Prefect case-stage flow, the deadline scheduler and the reconciler.

Not built yet (Orchestration and Deadlines issues). The seams they use exist: the
``outbox`` rows with topic ``stage_flow`` and the ``deadline`` rows, both written in the
transaction of each transition (see cases/outbox.py and cases/deadlines.py).
"""
