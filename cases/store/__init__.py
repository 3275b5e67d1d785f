"""Persistence: the tables, the engine and unit of work, migrations."""
