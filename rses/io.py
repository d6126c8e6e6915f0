"""Files: reading and writing images and masks, atomic writes, links, locks, digests and the cache root.

Reading is :mod:`rses.pixels` (re-exported here: :func:`load_image`, :func:`load_mask`), the one way pixels
enter rses; writing is atomic (a temporary file, then a rename). The file helpers the runner, the split
builders and the baselines share live here too: :func:`link_or_copy`, :func:`dir_lock`, :func:`sha256_file`
and :func:`cache_root`.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.png"
    >>> save_mask(p, np.eye(3, dtype=bool))
    >>> from rses.io import load_mask
    >>> load_mask(p).sum()
    np.int64(3)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rses.errors import InvalidSampleError, RsesError

if TYPE_CHECKING:
    import numpy as np

    from rses.pixels import load_image, load_mask

__all__ = [
    "cache_root",
    "dir_lock",
    "link_or_copy",
    "load_image",
    "load_mask",
    "save_image",
    "save_mask",
    "sha256_file",
    "write_atomic",
]


def __getattr__(name: str) -> Any:
    """:func:`load_image` and :func:`load_mask`, imported from :mod:`rses.pixels` on first use: the commands
    that only read run files (``rses check``, ``rses leaderboard``) never load OpenCV or NumPy.
    """
    if name in ("load_image", "load_mask"):
        import rses.pixels

        return getattr(rses.pixels, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def write_atomic(path: str | Path, data: str | bytes | memoryview, durable: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so readers never see half a file.

    ``durable`` also fsyncs the file before the rename, so it survives a machine crash. Files that can be
    rebuilt (a run's tables) skip it: on ext4 an fsync also flushes every other file written since the last
    one, e.g. all the edits of a run.

    Raises:
        OSError: the write failed (a full disk, an I/O error, a read-only folder); its ``filename`` is ``path``
            and its ``errno`` the cause's. The temporary file is removed first.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        try:
            fh = open(tmp, "wb")
        except FileNotFoundError:  # the folder is made only when missing: no system call in the usual case
            path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(tmp, "wb")
        with fh:
            fh.write(data.encode() if isinstance(data, str) else data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:  # a full disk or an I/O error: no half-written temporary is left behind
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise OSError(err.errno, err.strerror or str(err), str(path)) from err


def save_image(path: str | Path, image: np.ndarray, compress_level: int = 6) -> None:
    """Save a ``(H, W, 3)`` RGB or ``(H, W)`` gray uint8 array as PNG, atomically (a temporary file, then a
    rename, so readers never see half a file). ``compress_level`` 0 writes fastest (no filtering, stored
    deflate blocks: ~0.4 ms for 256x256 RGB), 9 smallest.
    """
    import cv2
    import numpy as np

    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_PNG_COMPRESSION, compress_level]
    if compress_level == 0:
        params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
    ok, encoded = cv2.imencode(".png", array, params)
    if not ok:
        raise InvalidSampleError(f"Cannot encode an array of shape {array.shape} as PNG for {path}.")
    write_atomic(path, encoded.data, durable=False)


def save_mask(path: str | Path, mask: np.ndarray) -> None:
    """Save a bool mask as a 0/255 8-bit PNG."""
    import numpy as np

    save_image(path, np.where(mask, 255, 0).astype(np.uint8))


def link_or_copy(src: str | Path, dst: str | Path) -> None:
    """Give ``dst`` the bytes of ``src``: a hard link where the file system allows, else a copy; atomic.

    An existing ``dst`` is replaced (through a temporary file, so readers see the old or the new file);
    missing parent folders are made.

    Raises:
        OSError: ``src`` cannot be read or ``dst`` cannot be written.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "a").write_text("x")
        >>> link_or_copy(d / "a", d / "sub" / "b"); (d / "sub" / "b").read_text()
        'x'
    """
    src, dst = Path(src), Path(dst)
    try:
        os.link(src, dst)  # the usual case: one system call
        return
    except FileNotFoundError:
        if not src.exists():
            raise
        dst.parent.mkdir(parents=True, exist_ok=True)
    except OSError:  # dst exists (a rescored sample) or no hard links here: through a temporary file
        pass
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


@contextlib.contextmanager
def dir_lock(path: Path, what: str, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (made if missing, with its folder); the lock file says ``pid N``.

    Without ``wait``, fail at once if another process holds it; with ``wait``, block until it is free.

    Raises:
        RsesError: the lock is held (only without ``wait``), naming ``what``, the folder and the holder.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise RsesError(
                f"Another `rses eval` is already running {what} in {path.parent} "
                f"(lock {path} held by {holder}). "
                "Wait for it to finish, or pass a different --out."
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """The hex sha256 of a file, read in chunks (uncached; see :func:`rses.weight_identity.file_sha256`).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "f"
        >>> _ = p.write_bytes(b"abc")
        >>> sha256_file(p)[:16]
        'ba7816bf8f01cfea'
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def cache_root() -> Path:
    """Rses's cache folder: ``$RSES_CACHE_DIR``, else ``~/.cache/rses`` (edits, digests, verified splits)."""
    return Path(os.environ.get("RSES_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "rses"))
