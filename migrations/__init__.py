"""Alembic migrations for the syncd index (installed as syncd.migrations)."""
