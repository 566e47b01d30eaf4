"""The engine: turns events into runs and runs into attempts, and records what happened."""
