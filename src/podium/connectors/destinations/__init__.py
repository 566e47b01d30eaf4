"""Where loads land: a small Destination protocol, DuckDB (embedded) and PostgreSQL."""
