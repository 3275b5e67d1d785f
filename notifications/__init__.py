"""Notification delivery: outbox dispatcher, channels and templates.

Not built yet (Notifications issue). Every change of a case already writes an outbox row
with topic ``notification`` (cases/outbox.py) for the dispatcher to expand and send.
"""
