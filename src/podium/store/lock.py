"""The one-engine-at-a-time lock of a SQLite store: an flock on a file beside it.

The kernel drops the lock when the holder dies, even by SIGKILL, so a crashed engine never
blocks the next one.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path

from podium import clock
from podium.errors import EngineLockedError


class EngineLock:
    def __init__(self, db_path: str) -> None:
        self.path = Path(db_path + ".engine-lock")
        self._fd: int | None = None

    def acquire(self, what: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = self._read_info(fd)
            holder = f"{info.get('what', 'engine')}, pid {info.get('pid')} on {info.get('host')}"
            os.close(fd)
            raise EngineLockedError(
                f"another podium engine ({holder}) is using the SQLite store "
                f"{self.path.name.removesuffix('.engine-lock')}; a SQLite store serves one "
                "engine at a time. Stop it first, or talk to it through its API "
                "(podium emit/retry/cancel do), or use a PostgreSQL store to run several "
                "engines",
                info,
            ) from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "what": what, "at": clock.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd

    @staticmethod
    def _read_info(fd: int) -> dict[str, object]:
        try:
            info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        except (OSError, ValueError):
            return {}
        return info if isinstance(info, dict) else {}

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
