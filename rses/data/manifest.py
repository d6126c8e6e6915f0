"""Split manifests: JSON Lines (or Parquet) of samples with file hashes, validated on load.

One line per sample (in Parquet: one row, the same fields as columns, ``sha256`` a struct); paths are
relative to the manifest's directory (the split root)::

    {"id": "astronaut-helmet-pixel-art", "image_id": "astronaut",
     "source": "images/astronaut.png", "mask": "masks/astronaut-helmet.png",
     "object": "helmet", "style": "pixel-art",
     "prompt": "make the helmet in pixel-art style, keep other area unchanged",
     "target": "targets/astronaut-helmet-pixel-art.png",
     "sha256": {"source": "...", "mask": "...", "target": "..."}}

``prompt`` defaults to :data:`PROMPT_TEMPLATE`; ``target`` (a pseudo-GT image) and ``image_id`` (which
photo the sample comes from; samples of one photo share it) are optional. Loading checks every file's
sha256, that mask and target have the source's size (both as displayed: EXIF orientation applied, as
everywhere in :mod:`rses.pixels`), that masks are binary and neither empty nor full,
that no path leaves the split root (symlinks are resolved first) and that ids are unique. Each problem
raises :class:`~rses.errors.InvalidSampleError` naming the sample, the problem and what to do.

Where splits live (:func:`load_split`):

- built-in names ``test`` and ``train``: shipped in the package under ``rses/data/builtin/``;
- registered names ``<dataset>/<name>`` such as ``coco/test``: the manifest
  ``<splits dir>/<dataset>/<name>.jsonl`` written by ``rses data build``, where the splits dir is
  ``$RSES_SPLITS_DIR``, else ``$RSES_CACHE_DIR/splits``, else ``~/.cache/rses/splits``;
- any path to a ``.jsonl`` or ``.parquet`` manifest.

Example:
    >>> split = load_split("test")
    >>> len(split) >= 40, split.samples[0].style in STYLES
    (True, True)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rses.errors import InvalidSampleError, UsageError
from rses.io import cache_root, sha256_file, write_atomic
from rses.pixels import image_size, load_image, load_mask

PROMPT_TEMPLATE = "make the {object} in {style} style, keep other area unchanged"
STYLES = ("pixel-art", "cyberpunk", "expressionism", "line-art")
BUILTIN_DIR = Path(__file__).parent / "builtin"
BUILTIN_SPLITS = ("test", "train")
FILE_KEYS = ("source", "mask", "target")
_REQUIRED = ("id", "source", "mask", "object", "style", "sha256")


def default_prompt(object_name: str, style: str) -> str:
    """The paper's instruction for one object and style.

    Example:
        >>> default_prompt("cat", "pixel-art")
        'make the cat in pixel-art style, keep other area unchanged'
    """
    return PROMPT_TEMPLATE.format(object=object_name, style=style)


@dataclass(frozen=True)
class Sample:
    """One benchmark sample; paths are absolute (resolved inside the split root)."""

    id: str
    source: Path
    mask: Path
    object_name: str
    style: str
    prompt: str
    target: Path | None = None
    sha256: dict[str, str] = field(default_factory=dict)
    image_id: str = ""

    def load_source(self) -> np.ndarray:
        """The source image, ``(H, W, 3)`` uint8 RGB."""
        return load_image(self.source)

    def load_mask(self) -> np.ndarray:
        """The object mask, ``(H, W)`` bool."""
        return load_mask(self.mask)

    def load_target(self) -> np.ndarray | None:
        """The pseudo-GT target, ``(H, W, 3)`` uint8 RGB, or ``None`` when the sample has none."""
        return None if self.target is None else load_image(self.target)


@dataclass(frozen=True)
class Split:
    """A loaded, validated split: its name, root directory, samples, and the manifest's own sha256."""

    name: str
    root: Path
    samples: list[Sample]
    manifest_path: Path
    manifest_sha256: str

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)


def splits_dir() -> Path:
    """Where ``rses data build`` registers splits: ``$RSES_SPLITS_DIR``, ``$RSES_CACHE_DIR/splits`` or
    ``~/.cache/rses/splits``.
    """
    if os.environ.get("RSES_SPLITS_DIR"):
        return Path(os.environ["RSES_SPLITS_DIR"]).expanduser()
    if os.environ.get("RSES_CACHE_DIR"):
        return Path(os.environ["RSES_CACHE_DIR"]).expanduser() / "splits"
    return Path.home() / ".cache" / "rses" / "splits"


def registered_splits() -> list[str]:
    """Names ``<dataset>/<name>`` of the manifests in :func:`splits_dir`, sorted."""
    root = splits_dir()
    return sorted(f"{p.parent.name}/{p.stem}" for p in root.glob("*/*.jsonl")) if root.is_dir() else []


def available_splits() -> list[str]:
    """Every name :func:`load_split` accepts besides a path: built-in first, then registered."""
    return [*BUILTIN_SPLITS, *registered_splits()]


def resolve_split(spec: str) -> tuple[str, Path]:
    """Turn a split spec into ``(name, manifest path)``; :class:`UsageError` listing names when unknown."""
    if spec in BUILTIN_SPLITS:
        return spec, BUILTIN_DIR / f"{spec}.jsonl"
    path = Path(spec).expanduser()
    if path.is_file():
        return path.stem, path
    registered = splits_dir() / f"{spec}.jsonl"
    if spec.count("/") == 1 and registered.is_file():
        return spec, registered
    raise UsageError(
        f"Unknown split {spec!r}: not a built-in or registered name, and no manifest file at that path. "
        f"Available: {', '.join(available_splits())}. Build one with `rses data build coco --root PATH` "
        f"(registered under {splits_dir()}) or pass a manifest .jsonl or .parquet path."
    )


def load_split(spec: str, verify: bool = True, mask_threshold: float | None = None) -> Split:
    """Load and validate a split by built-in name, registered name (``coco/test``) or manifest path.

    Args:
        spec: ``test``, ``train``, ``<dataset>/<name>``, or a path to a ``.jsonl`` or ``.parquet`` manifest.
        verify: check file hashes, sizes and masks (paths, ids and line syntax are always checked).
        mask_threshold: binarize soft masks at this level (0-1) when checking them (as ``load_mask``).

    Raises:
        UsageError: the spec names no split.
        InvalidSampleError: a sample is unusable; the message names it.
    """
    name, path = resolve_split(spec)
    return read_manifest(path, name=name, verify=verify, mask_threshold=mask_threshold)


def verify_samples(split: Split, samples: Sequence[Sample], mask_threshold: float | None = None) -> None:
    """Check the files of ``samples`` (a part of ``split``) as :func:`load_split` does, once per file state.

    A run checks only the samples it will use (``--limit``, its shard and rank), not the whole manifest. The
    verdict is remembered in ``$RSES_CACHE_DIR/verified/`` under a digest of the manifest, the threshold and
    every checked file's (real path, size, mtime_ns, ctime_ns, inode): a rerun, a resume or the next method of
    a suite checks nothing again, while any change to a file (even one that restores its mtime: the ctime
    moves) checks it again.

    Raises:
        InvalidSampleError: as :func:`load_split`, naming the sample.
    """
    stamp = _verdict_stamp(split, samples, mask_threshold)
    if stamp is not None and stamp.is_file():
        return
    hashes: dict[Path, str] = {}
    for sample in samples:
        _verify_files(sample, split.root, hashes, mask_threshold)
    if stamp is not None:
        try:
            write_atomic(stamp, "verified\n", durable=False)
        except OSError:  # a read-only cache only costs the next run the checks
            pass


def _verdict_stamp(split: Split, samples: Sequence[Sample], mask_threshold: float | None) -> Path | None:
    """Where the verdict for these samples' files, as they are now, is kept (None: a file is missing)."""
    digest = hashlib.sha256(f"{split.manifest_sha256}|{mask_threshold!r}".encode())
    for sample in samples:
        for file in (sample.source, sample.mask, sample.target):
            if file is None:
                continue
            try:
                st = os.stat(file)
            except OSError:
                return None  # _verify_files names the missing file
            digest.update(
                f"|{sample.id}|{os.path.realpath(file)}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|"
                f"{st.st_ino}".encode()
            )
    return cache_root() / "verified" / digest.hexdigest()


def read_manifest(
    path: str | Path, name: str | None = None, verify: bool = True, mask_threshold: float | None = None
) -> Split:
    """Read and validate a manifest (``.parquet``: Parquet, else JSON Lines); its directory is the split root."""
    path = Path(path)
    root = path.parent.resolve()
    raw = path.read_bytes()
    parquet = path.suffix.lower() == ".parquet"
    unit = "row" if parquet else "line"
    samples: list[Sample] = []
    first: dict[str, int] = {}
    hashes: dict[Path, str] = {}
    for number, record in _parquet_records(raw, path) if parquet else _json_lines(raw, path):
        sample = _parse_record(record, f"{unit} {number}", path, root)
        if sample.id in first:
            raise InvalidSampleError(
                f"Sample {sample.id!r}: duplicate id on {unit}s {first[sample.id]} and {number} of {path}; "
                "every sample id must be unique: rename or remove one."
            )
        first[sample.id] = number
        if verify:
            _verify_files(sample, root, hashes, mask_threshold)
        samples.append(sample)
    if not samples:
        raise InvalidSampleError(f"Manifest {path} has no samples; write one JSON object per line.")
    return Split(name or path.stem, root, samples, path, hashlib.sha256(raw).hexdigest())


def _json_lines(raw: bytes, path: Path) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InvalidSampleError(
            f"Line {line} of {path} is not UTF-8 text ({err.reason}); save it as UTF-8."
        ) from None
    for lineno, line in enumerate(text.split("\n"), start=1):  # not splitlines: U+2028 is valid in JSON
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise InvalidSampleError(
                f"Line {lineno} of {path} is not valid JSON ({err.msg} at column {err.colno}); "
                "each line must be one JSON object."
            ) from None
        if not isinstance(record, dict):
            raise InvalidSampleError(
                f"Line {lineno} of {path} is a JSON {type(record).__name__}, not an object."
            )
        yield lineno, record


def _parquet_records(raw: bytes, path: Path) -> Iterator[tuple[int, dict]]:
    """``(row number, record)`` for each row; null fields are left out, as if absent from a JSON line."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(pa.BufferReader(raw)).to_pylist()
    except (pa.ArrowException, OSError) as err:
        raise InvalidSampleError(f"Manifest {path} cannot be read as Parquet ({err}).") from None
    for number, row in enumerate(rows, start=1):
        record = {key: value for key, value in row.items() if value is not None}
        if isinstance(record.get("sha256"), dict):
            record["sha256"] = {key: value for key, value in record["sha256"].items() if value is not None}
        yield number, record


def _parse_record(record: dict, where: str, path: Path, root: Path) -> Sample:
    sample_id = record.get("id", f"<{where}>")
    missing = [key for key in _REQUIRED if key not in record]
    if missing:
        raise InvalidSampleError(
            f"Sample {sample_id!r} ({where} of {path}) lacks {', '.join(missing)}; "
            f"every sample needs {', '.join(_REQUIRED)}."
        )
    for key in ("id", "object", "style"):
        if not isinstance(record[key], str) or not record[key]:
            raise InvalidSampleError(
                f"Sample {sample_id!r}: {key!r} must be a non-empty string, got {record[key]!r}."
            )
    if record.get("prompt") is not None and not isinstance(record["prompt"], str):
        raise InvalidSampleError(
            f"Sample {sample_id!r}: 'prompt' must be a string, got {record['prompt']!r}."
        )
    if not isinstance(record["sha256"], dict):
        raise InvalidSampleError(f"Sample {sample_id!r}: 'sha256' must map file keys to hex digests.")
    files = {
        key: _inside(root, record.get(key), sample_id, key)
        for key in FILE_KEYS
        if key != "target" or record.get(key) is not None
    }
    for key in files:
        if not isinstance(record["sha256"].get(key), str):
            raise InvalidSampleError(
                f"Sample {sample_id!r}: no sha256 for its {key}; rewrite the manifest with "
                "rses.data.manifest.write_manifest (it hashes every file)."
            )
    return Sample(
        id=record["id"],
        source=files["source"],
        mask=files["mask"],
        object_name=record["object"],
        style=record["style"],
        prompt=record.get("prompt") or default_prompt(record["object"], record["style"]),
        target=files.get("target"),
        sha256=dict(record["sha256"]),
        image_id=str(record.get("image_id", "")),
    )


def _inside(root: Path, rel: Any, sample_id: str, key: str) -> Path:
    """``root / rel`` resolved (symlinks followed); refuses anything that ends up outside ``root``."""
    if not isinstance(rel, str) or not rel or "\0" in rel:
        raise InvalidSampleError(f"Sample {sample_id!r}: {key} must be a relative path string, got {rel!r}.")
    resolved = (root / rel).resolve()
    if not resolved.is_relative_to(root):
        raise InvalidSampleError(
            f"Sample {sample_id!r}: {key} path {rel!r} resolves to {resolved}, outside the split root "
            f"{root}; manifests may only reference files inside their own directory "
            "(copy the file in, no symlinks out)."
        )
    return resolved


def _verify_files(
    sample: Sample, root: Path, hashes: dict[Path, str], mask_threshold: float | None = None
) -> None:
    files = {"source": sample.source, "mask": sample.mask, "target": sample.target}
    for key, file in files.items():
        if file is None:
            continue
        if not file.is_file():
            raise InvalidSampleError(
                f"Sample {sample.id!r}: {key} file {file} does not exist; restore it or rebuild the split."
            )
        if file not in hashes:
            hashes[file] = sha256_file(file)
        if hashes[file] != sample.sha256[key].lower():
            raise InvalidSampleError(
                f"Sample {sample.id!r}: {key} {file.relative_to(root)} has sha256 "
                f"{hashes[file][:12]}..., the "
                f"manifest says {sample.sha256[key][:12]}...; the file changed since the split was built: "
                "restore it or rebuild the split."
            )
    size = _size(sample.source, sample.id, "source")
    for key in ("mask", "target"):
        if files[key] is not None and (other := _size(files[key], sample.id, key)) != size:
            raise InvalidSampleError(
                f"Sample {sample.id!r}: {key} is {other[0]}x{other[1]} but the source is "
                f"{size[0]}x{size[1]}; "
                f"resize the {key} to the source's size (nearest-neighbour for masks)."
            )
    try:
        mask = load_mask(
            sample.mask,
            mask_threshold,
            hint="A split's masks must be binary: pass --mask-threshold (e.g. 0.5) to rses eval, or save it "
            "binarised as PNG, e.g. (value > 127) * 255, and rebuild the split; JPEG adds grey values.",
        )
    except InvalidSampleError as err:
        raise InvalidSampleError(f"Sample {sample.id!r}: {err}") from None
    if not mask.any() or mask.all():
        raise InvalidSampleError(
            f"Sample {sample.id!r}: mask {sample.mask.name} is {'empty' if not mask.any() else 'full'}; "
            "a regional edit needs an object covering part of the image: fix or drop the sample."
        )


def _size(path: Path, sample_id: str, key: str) -> tuple[int, int]:
    """``(width, height)`` as the loaders will decode it (EXIF orientation applied, as for scoring)."""
    try:
        return image_size(path, key.capitalize())
    except InvalidSampleError as err:
        raise InvalidSampleError(f"Sample {sample_id!r}: {err}") from None


def sample_record(
    root: Path,
    sample_id: str,
    source: Path,
    mask: Path,
    object_name: str,
    style: str,
    target: Path | None = None,
    prompt: str | None = None,
    image_id: str = "",
) -> dict[str, Any]:
    """One manifest line as a dict: paths made relative to ``root`` and every file hashed."""
    files = {"source": Path(source), "mask": Path(mask)} | ({"target": Path(target)} if target else {})
    record: dict[str, Any] = {"id": sample_id, "image_id": image_id}
    record |= {
        key: file.resolve().relative_to(Path(root).resolve()).as_posix() for key, file in files.items()
    }
    record |= {"object": object_name, "style": style, "prompt": prompt or default_prompt(object_name, style)}
    record["sha256"] = {key: sha256_file(file) for key, file in files.items()}
    return record


def write_manifest(path: str | Path, records: Sequence[dict[str, Any]]) -> Path:
    """Write records (from :func:`sample_record`) atomically, as Parquet for a ``.parquet`` path, else as
    JSON Lines; returns the path.
    """
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        buffer = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(list(records)), buffer)
        write_atomic(path, buffer.getvalue().to_pybytes())
    else:
        write_atomic(path, "".join(json.dumps(r, sort_keys=False) + "\n" for r in records))
    return path
