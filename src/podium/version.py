"""The version podium reports (package metadata, User-Agent, outgoing webhook headers)."""

__version__ = "0.1.0"
