"""``--method folder --edits DIR``: score edits made elsewhere (a closed API, another codebase), one image a sample.

The folder holds one image per sample, named by the sample id (``<id>.png``; ``.jpg``, ``.jpeg``, ``.webp``,
``.bmp``, ``.tif``/``.tiff`` too; an id with ``/`` is a sub-folder) or by the file name a run gives it
(``edits/<safe_name(id)>.png`` of an rses run directory). Before any work :meth:`FolderEditor.check_inputs`
refuses, in one message, missing files (a selected sample with none), extra files (matching no sample of the
split), duplicates (two files for one sample) and mis-sized ones (not the source's height x width; with
``resize=True`` any size of the same aspect ratio, which the runner brings to the source size as it does for
every editor). The folder's content digest (sha256 of every file's name and bytes) is part of the config: it is
recorded in run.json, keys the edit cache, and a changed folder cannot be resumed into.

Example:
    >>> import tempfile, pathlib, numpy as np
    >>> from rses.io import save_image
    >>> d = pathlib.Path(tempfile.mkdtemp()); save_image(d / "s0.png", np.zeros((4, 4, 3), np.uint8))
    >>> editor = FolderEditor(FolderEditor.Config(edits=str(d)))
    >>> editor.config_dict()["digest"] == folder_digest(d), len(editor.digest)
    (True, 64)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rses.editing import Editor, EditRequest
from rses.errors import InvalidSampleError, UsageError
from rses.io import load_image, sha256_file
from rses.pixels import image_size

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})
_SHOWN = 3  # names shown per kind of problem


@dataclass(frozen=True)
class FolderConfig:
    """``edits``: the folder; ``resize``: accept any size with the source's aspect ratio (default: exact size)."""

    edits: str = ""
    resize: bool = False


def index_folder(folder: Path) -> tuple[dict[str, list[Path]], list[Path]]:
    """``({key: [files]}, non-image files)``; a key is the path relative to ``folder`` without its suffix.

    Hidden files and folders (``.name``) are skipped.
    """
    found: dict[str, list[Path]] = {}
    others = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES:
            found.setdefault(rel.with_suffix("").as_posix(), []).append(path)
        else:
            others.append(path)
    return found, others


def folder_digest(folder: Path) -> str:
    """sha256 of every non-hidden file's relative path and bytes, in sorted order."""
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            h.update(f"{rel.as_posix()}\0".encode())
            h.update(bytes.fromhex(sha256_file(path)))  # the file's digest, read in chunks
    return h.hexdigest()


class FolderEditor(Editor):
    """Reads each sample's edit from a folder instead of making it; see the module docstring."""

    name = "folder"
    Config = FolderConfig

    def __init__(self, config: FolderConfig | None = None, device: str = "cpu", smoke: bool = False):
        super().__init__(config, device, smoke)
        if not self.config.edits:
            raise UsageError(
                "--method folder needs the folder of edits: pass --edits DIR (one image per sample "
                "id, e.g. DIR/<sample_id>.png)."
            )
        self.folder = Path(self.config.edits).expanduser().resolve()
        if not self.folder.is_dir():
            raise UsageError(f"--edits {self.config.edits}: no such folder.")
        self._index, self._others = index_folder(self.folder)
        self.digest = folder_digest(self.folder)
        self.files: dict[str, Path] = {}

    def config_dict(self) -> dict[str, Any]:
        """The folder, the resize flag and the folder's digest, as recorded in the run's config."""
        return {"edits": str(self.folder), "resize": self.config.resize, "digest": self.digest}

    def config_hash(self) -> str:
        """Hash of the folder's content digest and ``resize``: a moved folder keeps its cache, a changed one not."""
        payload = json.dumps({"name": self.name, "digest": self.digest, "resize": self.config.resize})
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    def check_inputs(self, samples: Sequence, split_samples: Sequence) -> None:
        """Match the folder to the split; raise one UsageError listing every problem before any work."""
        from rses.edit_cache import safe_name

        key_of = {s.id: s.id for s in split_samples} | {safe_name(s.id): s.id for s in split_samples}
        matched: dict[str, list[Path]] = {}
        extra = [str(p.relative_to(self.folder)) for p in self._others]
        for key, paths in self._index.items():
            if key in key_of:
                matched.setdefault(key_of[key], []).extend(paths)
            else:
                extra.extend(str(p.relative_to(self.folder)) for p in paths)
        problems = []
        duplicates = {sid: paths for sid, paths in matched.items() if len(paths) > 1}
        missing = [s.id for s in samples if s.id not in matched]
        sized, unreadable = [], []
        for sample in samples:
            paths = matched.get(sample.id)
            if not paths or sample.id in duplicates:
                continue
            try:  # sizes as displayed (EXIF orientation applied), the frame load_image gives
                edit = image_size(paths[0])
            except InvalidSampleError as err:
                unreadable.append(f"{paths[0].relative_to(self.folder)}: {err}")
                continue
            src = image_size(sample.source)
            if not _fits(edit, src, self.config.resize):
                sized.append(
                    f"{paths[0].relative_to(self.folder)} is {edit[0]}x{edit[1]}, the "
                    f"source {src[0]}x{src[1]}"
                )
            self.files[sample.id] = paths[0]
        if missing:
            problems.append(f"{len(missing)} sample(s) have no file ({_few(missing)})")
        if extra:
            problems.append(f"{len(extra)} file(s) match no sample id of the split ({_few(extra)})")
        if duplicates:
            problems.append(
                f"{len(duplicates)} sample(s) have several files ("
                + _few(
                    [
                        " + ".join(str(p.relative_to(self.folder)) for p in paths)
                        for paths in duplicates.values()
                    ]
                )
                + ")"
            )
        if unreadable:
            problems.append(f"{len(unreadable)} file(s) cannot be read as images ({_few(unreadable)})")
        if sized:
            policy = "the source's aspect ratio" if self.config.resize else "the source's size"
            problems.append(f"{len(sized)} file(s) do not have {policy} ({_few(sized)})")
        if problems:
            raise UsageError(
                f"--edits {self.folder}: " + "; ".join(problems) + ". Name each edit <sample_id>.png "
                "(one per sample of the split, at the source's size; resize=true in the config "
                "accepts other sizes of the same aspect ratio)."
            )

    def edit(self, requests: Sequence[EditRequest]) -> list[np.ndarray]:
        """The stored edit of each request's sample, read from the folder."""
        if any(r.sample_id not in self.files for r in requests):
            raise UsageError("FolderEditor.edit called before check_inputs matched the folder to the split.")
        return [load_image(self.files[r.sample_id]) for r in requests]


def _fits(edit_wh: tuple[int, int], source_wh: tuple[int, int], resize: bool) -> bool:
    """Exact size, or with ``resize`` the same aspect ratio to within one pixel of the scaled size."""
    if edit_wh == source_wh:
        return True
    if not resize:
        return False
    (ew, eh), (sw, sh) = edit_wh, source_wh
    return abs(ew * sh / sw - eh) <= 1.0 and abs(eh * sw / sh - ew) <= 1.0


def _few(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f", ... ({len(names)} in all)" if len(names) > _SHOWN else "")
