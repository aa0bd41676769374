"""Persistence of backend state (SQLite)."""
