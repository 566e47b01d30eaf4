"""Turning pages of nested records into flat, typed tables (in an embedded DuckDB)."""
