"""The Python code this project's tasks run."""
