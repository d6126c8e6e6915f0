"""The weight digest cache must not serve a stale sha256 for a file rewritten in place with the same size
and its mtime set back (``touch -d``, ``rsync --times``, ``cp --preserve``): the inode's change time moves."""

from __future__ import annotations

import hashlib
import os
import time

import rses.weight_identity as wi


def test_file_rewritten_in_place_with_size_and_mtime_restored_is_hashed_again(tmp_path, monkeypatch):
    monkeypatch.setenv("RSES_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"x" * 1000)
    before = os.stat(path)
    assert wi.file_sha256(path) == hashlib.sha256(b"x" * 1000).hexdigest()
    time.sleep(0.05)  # the kernel's change-time clock is coarse (a few ms)
    with open(path, "r+b") as fh:  # same inode, same size
        fh.write(b"y" * 1000)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime as it was
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    assert wi.file_sha256(path) == hashlib.sha256(b"y" * 1000).hexdigest()
