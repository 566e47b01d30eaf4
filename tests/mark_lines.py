"""Source of the helper that generated task code uses to leave marks a test counts.

Each line is one `O_APPEND` write, so lines from processes killed mid-task are whole or absent.
"""

APPEND_LINE_PY = """
def append_line(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (text + "\\n").encode())
    finally:
        os.close(fd)
"""
