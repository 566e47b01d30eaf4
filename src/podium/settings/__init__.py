"""Reading what users write: YAML with line numbers, ``${VAR}`` secrets, and settings
described once (validation and JSON Schema come from the same description)."""
