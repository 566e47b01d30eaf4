"""A PostgreSQL server of a test's own, to stop and start under podium.

Tests never stop the shared server (PODIUM_TEST_POSTGRES_URL): others use it at the same
time. This one is made with the machine's ``initdb`` and ``pg_ctl`` in a temporary folder,
listens on a free loopback port, and runs as user ``postgres`` when the tests run as root
(PostgreSQL refuses to run as root). ``find_binaries`` says why it cannot be made, for a
visible skip.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def find_binaries() -> tuple[Path | None, str]:
    """The folder holding initdb and pg_ctl, or None and why there is none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    on_path = shutil.which("initdb")
    initdb = found[-1] if found else on_path
    if initdb is None:
        return None, "initdb/pg_ctl not found (install postgresql) to start a private server"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return None, "running as root and there is no 'postgres' user to run a server as"
        if shutil.which("runuser") is None:
            return None, "running as root and runuser is missing"
    return Path(initdb).parent, ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivatePostgres:
    """initdb + pg_ctl in a temporary folder; ``url`` reaches its ``postgres`` database."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="podium-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        else:
            self._as = []
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
            " -c fsync=off -c max_connections=200"
        )
        (self.folder / "options").write_text(options)
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as, str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    def _ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", *args)

    def start(self) -> None:
        self._ctl("-o", (self.folder / "options").read_text(), "start")

    def stop(self, mode: str = "immediate") -> None:
        """``immediate``: every connection is cut at once, as in a crash."""
        self._ctl("-m", mode, "stop")

    def restart(self, mode: str = "immediate") -> None:
        self._ctl("-m", mode, "-o", (self.folder / "options").read_text(), "restart")

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
