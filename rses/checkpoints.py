"""What a checkpoint is, told by its bytes and not its name: a checked safetensors file, or pickle (refused).

Pickle files can run code when loaded, whatever they are called. A file is recognised as

* ``"safetensors"``: an 8-byte little-endian header length ``n`` (``2 <= n <= size - 8``) then ``{``; it is
  then validated in full (JSON header, dtypes, shapes, offsets inside the file) by the ``safetensors`` library;
* ``"pickle"``: pickle protocol 2-5 (``\\x80\\x02`` .. ``\\x80\\x05``, which also starts torch's legacy format),
  a zip archive (``PK\\x03\\x04``, torch's default format) or a tar archive (torch's oldest format);
* ``"other"``: anything else (protocol 0/1 pickles have no magic bytes and land here).

Without the pickle opt-in only safetensors files are accepted. A file named ``.safetensors`` must be one, with
or without the opt-in (its loader reads it as safetensors). Every problem is one
:class:`~rses.errors.RsesError` line naming the file (and the symlink's target) and what is wrong.

Example:
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "weights.safetensors"
    >>> _ = p.write_bytes(b"\\x02\\x00\\x00\\x00\\x00\\x00\\x00\\x00{}")
    >>> sniff(p)
    'safetensors'
    >>> _ = p.write_bytes(b"\\x80\\x04\\x95")
    >>> sniff(p)
    'pickle'
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest.mock import patch

from rses.errors import RsesError, UnsafeWeightsError

#: File suffixes of pickle checkpoints (a folder holding only these is refused too).
PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"})
#: The safetensors library's own limit on the header length.
MAX_HEADER_BYTES = 100_000_000
_SNIFF_BYTES = 512  # a tar archive's "ustar" magic sits at offset 257


class CheckpointError(RsesError):
    """A checkpoint file is malformed (empty, truncated, not what its name says); the message names it."""


def sniff(path: Path) -> str:
    """``"safetensors"``, ``"pickle"`` or ``"other"`` from the first bytes of the regular file ``path``."""
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    size = os.stat(path).st_size
    if len(head) >= 9:  # first: a header length of 640 = 0x280 starts with the bytes of pickle protocol 2
        (length,) = struct.unpack("<Q", head[:8])
        if 2 <= length <= size - 8 and head[8:9] == b"{":
            return "safetensors"
    if head[:4] == b"PK\x03\x04" or (len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5):
        return "pickle"
    if head[257:262] == b"ustar":
        return "pickle"
    return "other"


def check_file(path: Path, allow_pickle: bool) -> None:
    """Check one checkpoint file before it is loaded.

    Raises:
        UnsafeWeightsError: a pickle (or unrecognised) file without the opt-in, or a pickle named
            ``.safetensors``.
        CheckpointError: the file is missing (a broken symlink), not a regular file, or a malformed
            safetensors file.
    """
    name = _describe(path)
    if not path.exists():
        raise CheckpointError(f"Checkpoint {name} does not exist (a broken symlink?).")
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise CheckpointError(f"Checkpoint {name} is not a regular file (a directory, pipe or device).")
    kind = sniff(path)
    if path.suffix.lower() == ".safetensors":
        if kind == "pickle":
            raise UnsafeWeightsError(
                f"Checkpoint {name} is named .safetensors but holds a pickle (torch.save) checkpoint, which can "
                "execute code when loaded. Convert it to real safetensors; if you trust it, name it .pt and "
                "pass --allow-pickle."
            )
        _validate_safetensors(path, name)
        return
    if kind == "safetensors":
        _validate_safetensors(path, name)
    elif not allow_pickle:
        what = "pickle checkpoint" if kind == "pickle" else "checkpoint"
        why = "" if kind == "pickle" else " it is not a safetensors file (it may be a pickle), and"
        raise UnsafeWeightsError(
            f"Refusing to load {what} {name}:{why} pickle files can execute code when loaded. Convert it once "
            f"with `{safetensors_command(path)}`, or opt in with --allow-pickle / RSES_ALLOW_PICKLE=1 if you "
            "trust it."
        )


def safetensors_command(path: Path) -> str:
    """The one-line shell command that converts a torch-saved state dict ``path`` to ``<stem>.safetensors``
    beside it (tensors only, read with ``weights_only=True``, so nothing in the file is executed).

    Example:
        >>> safetensors_command(Path("/m/alex.pth"))  # doctest: +ELLIPSIS
        'python -c "import torch; from safetensors.torch import save_file; save_file(...)"'
    """
    src, dst = str(path), str(path.with_suffix(".safetensors"))
    code = (
        "import torch; from safetensors.torch import save_file; save_file({k: v.contiguous() for k, v in "
        f"torch.load({src!r}, map_location='cpu', weights_only=True).items()}}, {dst!r})"
    )
    plain = not any(c in code for c in '"$`\\!')
    return "python -c " + (f'"{code}"' if plain else shlex.quote(code))


def check_folder(folder: Path, allow_pickle: bool) -> None:
    """Check a weights folder (a diffusers pipeline, a hub snapshot): every ``.safetensors`` file in it is
    valid, and no sub-folder holds pickle weights (by suffix or content) without a safetensors file to load
    instead, unless pickle is allowed.

    Raises:
        UnsafeWeightsError, CheckpointError: as :func:`check_file`, naming the first offending file or folder.
    """
    pickles: set[Path] = set()
    safe: set[Path] = set()
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() == ".safetensors":
            check_file(path, allow_pickle)
            safe.add(path.parent)
        elif path.suffix.lower() in PICKLE_SUFFIXES or (_is_regular(path) and sniff(path) == "pickle"):
            pickles.add(path.parent)
    refused = sorted(pickles - safe)
    if refused and not allow_pickle:
        raise UnsafeWeightsError(
            f"Refusing to load pickle checkpoint(s) in {', '.join(map(str, refused[:3]))}: pickle files can "
            "execute code when loaded. Convert them to .safetensors, or opt in with --allow-pickle / "
            "RSES_ALLOW_PICKLE=1 if you trust them."
        )


def is_safetensors(path: Path) -> bool:
    """Whether ``path`` is a regular file whose bytes start like safetensors (see :func:`sniff`)."""
    return _is_regular(path) and sniff(path) == "safetensors"


@contextmanager
def pickle_opt_in(allow: bool) -> Iterator[None]:
    """Inside, ``RSES_ALLOW_PICKLE=1`` when ``allow`` (how a CLI's ``--allow-pickle`` reaches every weight
    lookup of editors and metrics); the environment is restored after.
    """
    with patch.dict(os.environ, {"RSES_ALLOW_PICKLE": "1"} if allow else {}):
        yield


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _describe(path: Path) -> str:
    if path.is_symlink():
        return f"{path} (a symlink to {os.readlink(path)})"
    return str(path)


def _validate_safetensors(path: Path, name: str) -> None:
    size = os.stat(path).st_size
    problem = None
    if size == 0:
        problem = "it is empty (0 bytes)"
    elif size < 8:
        problem = f"it is truncated: {size} bytes, less than the 8-byte header length"
    else:
        with open(path, "rb") as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            if length > MAX_HEADER_BYTES:
                problem = f"its header length {length} is absurd (the limit is {MAX_HEADER_BYTES})"
            elif length > size - 8:
                problem = (
                    f"its header length {length} runs past the end of the file ({size} bytes): truncated?"
                )
            else:
                problem = _header_problem(fh.read(length))
    if problem is None:
        problem = _library_problem(path)
    if problem:
        raise CheckpointError(
            f"Checkpoint {name} is not a valid safetensors file: {problem}. Fetch or convert it again."
        )


def _header_problem(header: bytes) -> str | None:
    try:
        parsed = json.loads(header)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return f"its header is not JSON ({err})"
    return None if isinstance(parsed, dict) else f"its header is JSON {type(parsed).__name__}, not an object"


def _library_problem(path: Path) -> str | None:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy"):
            return None
    except Exception as err:  # noqa: BLE001  (SafetensorError and the OSError of mmap; the text says which)
        return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
