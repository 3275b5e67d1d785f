"""Alembic migrations for the qingfeng database (run with ``qingfeng migrate``)."""
