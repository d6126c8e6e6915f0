"""Storage trouble stops a run, it never fails a sample: a full disk, an I/O error, a read-only folder.

A full disk or a failing device says nothing about a sample, so the runner stops at once with one line (what
could not be written, where, and how much space is free) instead of recording failed rows; everything written
so far stays, and the same command resumes. :func:`check_writable` finds a read-only output folder or edit
cache before any work; :func:`remove_stale_temporaries` deletes the temporary files a killed run left behind.

Example:
    >>> import errno
    >>> is_storage_error(OSError(errno.ENOSPC, "No space left on device"))
    True
    >>> is_storage_error(FileNotFoundError(errno.ENOENT, "No such file"))
    False
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rses.errors import RsesError

#: errnos that mean the storage, not the sample, is at fault.
STORAGE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM}
)
#: Temporary files of :func:`rses.io.write_atomic` and the runner: ``.NAME.PID.tmp``.
TEMPORARY = re.compile(r"^\..+\.(\d+)\.tmp$")
#: A temporary file older than this is stale whatever its process id says (no write takes a day).
STALE_AFTER_S = 24 * 3600


class StorageError(RsesError):
    """A file could not be written for a reason of the storage (full, read-only, failing, no permission)."""


def storage_errno(err: BaseException) -> int | None:
    """The storage errno of ``err`` (an ``OSError``, or pyarrow's, which carries it only in its text)."""
    if not isinstance(err, OSError):
        return None
    code = err.errno
    if code is None:
        found = re.search(r"\[errno (\d+)\]", str(err), re.IGNORECASE)
        code = int(found[1]) if found else None
    return code if code in STORAGE_ERRNOS else None


def is_storage_error(err: BaseException) -> bool:
    """Whether ``err`` is storage trouble (see ``STORAGE_ERRNOS``)."""
    return storage_errno(err) is not None


def free_space(path: str | Path) -> str:
    """Free space on the file system of ``path`` (or its nearest existing parent), e.g. ``"12.0 KB"``."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return "unknown"
    for unit in ("bytes", "KB", "MB", "GB"):
        if free < 1024 or unit == "GB":
            return f"{free} bytes" if unit == "bytes" else f"{free:.1f} {unit}"
        free /= 1024
    return "unknown"


def _what(path: Path) -> str:
    if path.name.startswith("journal"):
        return "a journal row to"
    if path.suffix == ".png":
        return "an edited image to"
    if path.name in {"samples.parquet", "samples.csv", "summary.json"}:
        return "the table"
    return "the file"


def storage_error(err: OSError, default: Path) -> StorageError:
    """The one-line :class:`StorageError` for ``err``; ``default`` is the file meant when ``err`` names none."""
    path = Path(err.filename) if err.filename else Path(default)
    reason = os.strerror(storage_errno(err)) if storage_errno(err) else str(err)
    return StorageError(
        f"Could not write {_what(path)} {path}: {reason} ({free_space(path)} free there). The run stopped; "
        "everything written so far is kept. Free some space (or fix the disk) and rerun the same command to "
        "resume."
    )


@contextmanager
def storage_guard(default: Path) -> Iterator[None]:
    """Turn storage trouble raised inside into :class:`StorageError` (``default``: the file written when the
    error names none). An error raised while cleaning up after it (a journal's close flushing again) keeps the
    first message.
    """
    try:
        yield
    except StorageError:
        raise
    except OSError as err:
        if not is_storage_error(err):
            raise
        chain: list[BaseException] = [err]
        while chain[-1].__context__ is not None and len(chain) < 20:
            chain.append(chain[-1].__context__)
        earlier = [e for e in chain if isinstance(e, StorageError)]
        if earlier:
            raise earlier[0] from None
        named = [e for e in chain if isinstance(e, OSError) and e.filename and is_storage_error(e)]
        raise storage_error(named[0] if named else err, default) from None


def check_writable(folder: Path, what: str) -> None:
    """Make ``folder`` if needed and check a file can be created in it, before any work.

    Raises:
        StorageError: naming ``what`` (e.g. ``"output directory"``), the folder and the reason.
    """
    probe = Path(folder) / f".rses-write-check.{os.getpid()}.tmp"
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        probe.touch()
        probe.unlink()
    except OSError as err:
        reason = "it is a file, not a directory" if Path(folder).is_file() else err.strerror or str(err)
        raise StorageError(
            f"The {what} {folder} is not writable ({reason}). Pass a writable one "
            f"({'--out' if what == 'output directory' else 'RSES_CACHE_DIR'}) or fix its permissions."
        ) from None


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete ``.NAME.PID.tmp`` files in ``folder`` whose process is gone (or that are a day old); returns them.

    Temporary files of live processes (a concurrent shard, another run sharing the edit cache) are kept.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = TEMPORARY.match(entry.name)
        if not match or not entry.is_file(follow_symlinks=False):
            continue
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER_S
            if old or not _alive(int(match[1])):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0
    return pid > 0
