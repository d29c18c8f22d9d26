"""The filesystem seam the dataset writer goes through: local files by default, object storage later.

:class:`FileSystem` is the small fsspec-like surface the writer needs
(``open``, ``replace``, ``makedirs``, ``exists``, ``listdir``, ``remove``
and ``lock``); :class:`LocalFileSystem` implements it with :mod:`os`,
``fsync`` and ``fcntl.flock``. :func:`write_atomic` is how every data file
and the manifest appear: a temporary file in the same directory, flushed
and fsynced, then renamed over the target, so a reader (or a process killed
half-way) never sees a partial file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from typing import IO, Any, Protocol

from ..errors import DatasetLockedError

__all__ = ["TMP_MARK", "FileSystem", "LocalFileSystem", "tmp_path_for", "write_atomic", "write_staged"]

#: Temporary files are named ``.<final name>.tmp-<random>``: hidden from pyarrow.dataset (leading
#: dot), never matched by a ``*.parquet`` glob, and recognisable for clean-up after a crash.
TMP_MARK = ".tmp-"


class FileSystem(Protocol):
    """What the dataset writer needs of a filesystem (paths are ``/``-separated strings)."""

    def open(self, path: str, mode: str = "rb") -> IO[bytes]:
        """A binary file object (``"rb"`` or ``"wb"``)."""
        ...

    def replace(self, src: str, dst: str) -> None:
        """Rename ``src`` over ``dst`` atomically (``dst`` may exist)."""
        ...

    def makedirs(self, path: str, exist_ok: bool = True) -> None:
        """Create a directory and its parents."""
        ...

    def exists(self, path: str) -> bool:
        """Whether a file or directory exists."""
        ...

    def listdir(self, path: str) -> list[str]:
        """The names in a directory (``[]`` when it does not exist)."""
        ...

    def remove(self, path: str) -> None:
        """Delete a file (no error when it is already gone)."""
        ...

    def lock(self, path: str) -> contextlib.AbstractContextManager[None]:
        """Hold an exclusive lock named by ``path``, or raise :class:`~hpo_analytics.errors.DatasetLockedError` now."""
        ...


class LocalFileSystem:
    """The local disk: durable writes (``fsync`` before the rename) and an ``fcntl.flock`` lock."""

    def open(self, path: str, mode: str = "rb") -> IO[bytes]:
        """``open(path, mode)``; a file opened for writing is fsynced when closed through :func:`write_atomic`."""
        return open(path, mode)  # noqa: SIM115 - the caller closes it

    def replace(self, src: str, dst: str) -> None:
        """``os.replace``: atomic on POSIX within one filesystem."""
        os.replace(src, dst)

    def makedirs(self, path: str, exist_ok: bool = True) -> None:
        """``os.makedirs``."""
        os.makedirs(path, exist_ok=exist_ok)

    def exists(self, path: str) -> bool:
        """``os.path.exists``."""
        return os.path.exists(path)

    def listdir(self, path: str) -> list[str]:
        """``os.listdir``, or ``[]`` for a missing directory."""
        try:
            return os.listdir(path)
        except FileNotFoundError:
            return []

    def remove(self, path: str) -> None:
        """``os.remove``, ignoring a file already gone."""
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)

    @contextlib.contextmanager
    def lock(self, path: str) -> Iterator[None]:
        """``flock(LOCK_EX | LOCK_NB)`` on ``path``, which then holds this process's pid.

        A second holder fails at once with :class:`DatasetLockedError`
        naming the pid written by the first. The kernel drops the lock when
        the process dies (``kill -9`` included), so a stale file never blocks.
        """
        import fcntl

        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _read_pid(fd)
                who = f"process {pid}" if pid is not None else "another process"
                raise DatasetLockedError(
                    f"{who} is syncing into {os.path.dirname(path) or '.'} (it holds {path}); "
                    "wait for it to finish, then run the sync again",
                    pid=pid,
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def tmp_path_for(path: str) -> str:
    """A fresh temporary name next to ``path`` (see :data:`TMP_MARK`)."""
    head, _, name = path.rpartition("/")
    return f"{head}/.{name}{TMP_MARK}{secrets.token_hex(4)}" if head else f".{name}{TMP_MARK}{secrets.token_hex(4)}"


def write_staged(fs: FileSystem, path: str, write: Callable[[IO[bytes]], Any]) -> str:
    """Write a temporary file next to ``path`` with ``write(file)``, flushed and fsynced; return its name."""
    tmp = tmp_path_for(path)
    try:
        with fs.open(tmp, "wb") as f:
            write(f)
            f.flush()
            fileno = getattr(f, "fileno", None)
            if fileno is not None:
                os.fsync(fileno())
    except BaseException:
        fs.remove(tmp)
        raise
    return tmp


def write_atomic(fs: FileSystem, path: str, write: Callable[[IO[bytes]], Any]) -> None:
    """Make ``path`` appear whole or not at all: a staged temporary file (:func:`write_staged`), then a rename."""
    fs.replace(write_staged(fs, path, write), path)
