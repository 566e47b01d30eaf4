"""A project's code, packed by the engine and unpacked on a worker, once per version.

A long-lived worker process keeps every module it imported: without a fresh copy, a changed
``tasks.py`` would run its old code until the worker restarts. So the engine packs the
project's code files (``CODE_SUFFIXES``; no data, no ``.podium/``, no hidden folder, no
virtualenv) into a zip whose name is the hash of its contents, and a worker unpacks each
version once into its own folder and imports from there, forgetting the modules of the
version before (``activate_root``).

    packer = Packer(root)          # engine side
    version, code = packer.current()
    code_root = unpack(code, version, base)   # worker side
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from podium.errors import UsageError

#: the files a project's tasks import or read as code; data files stay where they are
#: (``.json``, ``.txt`` and ``.csv`` are data often enough: a task's marks, an inbox)
CODE_SUFFIXES = frozenset(
    {".py", ".pyi", ".sql", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".sh", ".j2", ".jinja",
     ".jinja2"}
)  # fmt: skip
MAX_FILE = 5 * 1024 * 1024  # larger files are data, whatever their suffix
MAX_TOTAL = 50 * 1024 * 1024
_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "site-packages"})
_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: the same files give the same bytes


def code_files(root: Path) -> Iterator[Path]:
    """The project's code files, relative to ``root``, in a stable order."""
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d not in _SKIPPED_DIRS
            and not (here / d / "pyvenv.cfg").exists()
        )
        for name in sorted(files):
            path = here / name
            if path.suffix in CODE_SUFFIXES and not name.startswith("."):
                yield path.relative_to(root)


def fingerprint(root: Path) -> str:
    """Changes whenever a code file is added, removed or written (names, sizes, mtimes)."""
    digest = hashlib.sha256()
    for rel in code_files(root):
        try:
            stat = (root / rel).stat()
        except OSError:
            continue
        digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def pack(root: Path) -> tuple[str, bytes]:
    """The version (a hash of the contents) and the zip of the project's code files."""
    buffer = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel in code_files(root):
            path = root / rel
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if len(data) > MAX_FILE:
                continue
            total += len(data)
            if total > MAX_TOTAL:
                raise UsageError(
                    f"the project's code files under {root} add up to more than"
                    f" {MAX_TOTAL // 2**20} MB, too much to send to every Dask worker;"
                    " move data out of them or set executor: {type: dask, ship: false} and"
                    " give the workers the project at the same path"
                )
            info = zipfile.ZipInfo(rel.as_posix(), _EPOCH)
            info.external_attr = (path.stat().st_mode & 0o777) << 16
            archive.writestr(info, data)
    code = buffer.getvalue()
    return hashlib.sha256(code).hexdigest()[:16], code


class Packer:
    """The engine's current pack of the project's code, made again when the files change;
    the files are looked at no more than once per ``every`` seconds."""

    def __init__(
        self, root: Path, *, every: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.root, self.every, self.clock = root, every, clock
        self._guard = threading.Lock()
        self._looked = float("-inf")
        self._fingerprint = ""
        self._packed: tuple[str, bytes] = ("", b"")

    def current(self) -> tuple[str, bytes]:
        with self._guard:
            now = self.clock()
            if now - self._looked >= self.every:
                self._looked = now
                seen = fingerprint(self.root)
                if seen != self._fingerprint:
                    self._packed = pack(self.root)
                    self._fingerprint = seen
            return self._packed


def unpack(code: bytes, version: str, base: Path) -> Path:
    """The folder holding ``version`` of the code under ``base``, unpacked once (safe
    against other processes unpacking the same version at the same time)."""
    target = base / "podium-code" / version
    if target.is_dir():
        return target
    staging = base / "podium-code" / f".{version}.{os.getpid()}.{threading.get_ident()}"
    with zipfile.ZipFile(io.BytesIO(code)) as archive:
        for member in archive.infolist():
            if member.filename.startswith("/") or ".." in Path(member.filename).parts:
                raise ValueError(f"refusing to unpack {member.filename!r} outside the folder")
        archive.extractall(staging)
        for member in archive.infolist():
            mode = member.external_attr >> 16
            if mode:
                os.chmod(staging / member.filename, mode)
    try:
        staging.rename(target)
    except OSError:  # another process put the same version there first
        if not target.is_dir():
            raise
        _remove(staging)
    return target


def _remove(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink()
    folder.rmdir()
