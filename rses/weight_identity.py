"""What a weight reference resolved to: files, sizes, sha256 digests (cached), and checks against known digests.

:func:`identify_weights` turns a :class:`~rses.weights.WeightSpec` and a reference (flag, environment
variable or default, in that order, as :func:`~rses.weights.resolve_weights`) into a :class:`WeightIdentity`:
the reference and where it came from, the resolved path, the hub repo and commit when it is a hub snapshot,
and every file with its size and sha256. :meth:`WeightIdentity.key` depends on the content only (digests and
file names inside the resolved folder), not on how the weights were named, so the edit cache and the resume
check key on what actually ran.

Digests are cached in ``$RSES_CACHE_DIR/weight-digests.json`` keyed on (real path, size, mtime_ns, inode,
ctime_ns; the change time, which no tool can set back, catches a rewrite with size and mtime restored): a
multi-GB checkpoint is read once, later runs only ``stat`` it.

Known digests (:func:`verify_weights`), a mismatch raises :class:`~rses.errors.WeightsMismatchError`:

* ``spec.sha256`` / ``spec.known_sha256``: published file digests;
* a torchvision file name ``<name>-<hex>.pth`` (8+ hex digits, not all decimal): the hex starts the sha256;
* a hub file: its blob is named by its etag, the sha256 of an LFS file;
* ``spec.known_content``: the digest of the tensors themselves (:func:`tensor_content_sha256`), so a file
  that is neither known nor has the right tensors (e.g. a randomly initialised AlexNet) is refused.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "w.safetensors").write_bytes(b"\\x02" + bytes(7) + b"{}")  # an empty safetensors file
    >>> ident = identify_weights(WeightSpec(name="demo", default=f"file:{d / 'w.safetensors'}"))
    >>> ident.files[0].sha256[:12], ident.origin
    ('411a485216e4', 'default')
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rses.errors import WeightsMismatchError
from rses.io import cache_root, sha256_file, write_atomic
from rses.weights import WeightSpec, parse_reference, resolve_weights

DIGEST_CACHE = "weight-digests.json"
SKIP_FLAG = "--skip-weight-check"
#: torchvision's ``<name>-<sha256 prefix>.pth``; an all-digit suffix (e.g. a date) is not taken for a digest.
_TORCHVISION_NAME = re.compile(r"-((?=[0-9a-f]*[a-f])[0-9a-f]{8,64})$")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_COMMIT = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class WeightFile:
    """One file of a model: ``name`` relative to the resolved folder (the file name for a single file)."""

    name: str
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class WeightIdentity:
    """What one model's weights resolved to.

    Attributes:
        role: what the model is for, e.g. ``"editor"``, ``"metric:lpips"``.
        model: the spec's human name.
        reference: the reference that was resolved (``"hf-hub:org/repo"``, a path, ...).
        origin: where the reference came from: ``"argument"`` (flag or config), ``"env:VAR"`` or ``"default"``.
        resolved: the local file or folder.
        repo, commit: hub repo and resolved commit for a hub snapshot (else ``None``).
        files: every file with size and sha256, sorted by name.
        check: ``"verified: <how>"``, ``"no known digest"`` or ``"skipped"`` (``--skip-weight-check``).
    """

    role: str
    model: str
    reference: str
    origin: str
    resolved: str
    repo: str | None
    commit: str | None
    files: tuple[WeightFile, ...] = field(default_factory=tuple)
    check: str = "no known digest"

    def key(self) -> str:
        """A short digest of the content (a file's sha256; a folder's file names and sha256), not the naming."""
        single = len(self.files) == 1 and self.files[0].path == self.resolved
        payload = json.dumps(sorted(("" if single else f.name, f.sha256) for f in self.files)).encode()
        return hashlib.sha256(payload).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """This identity as a JSON-ready dict, with its files and key."""
        return asdict(self) | {"files": [asdict(f) for f in self.files], "key": self.key()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WeightIdentity:
        """The identity a :meth:`to_dict` dict describes (unknown keys are ignored)."""
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**fields | {"files": tuple(WeightFile(**f) for f in data.get("files", ()))})


def weights_key(identities: list[WeightIdentity]) -> str:
    """One digest of several models (role and content), for cache folders and the resume check."""
    payload = json.dumps([[i.role, i.key()] for i in identities]).encode()
    return hashlib.sha256(payload).hexdigest()[:16] if identities else "none"


def reference_and_origin(spec: WeightSpec, ref: str | None) -> tuple[str, str]:
    """The reference :func:`~rses.weights.resolve_weights` uses and where it came from."""
    if ref:
        return ref, "argument"
    if spec.env_var and os.environ.get(spec.env_var):
        return os.environ[spec.env_var], f"env:{spec.env_var}"
    return spec.default, "default"


def identify_weights(
    spec: WeightSpec,
    ref: str | None = None,
    *,
    path: Path | None = None,
    role: str = "model",
    verify: bool = True,
    allow_pickle: bool = False,
) -> WeightIdentity:
    """Resolve (unless ``path`` is given: the file the loader picked), digest, and with ``verify`` check.

    Raises:
        WeightsNotFoundError, UnsafeWeightsError: as :func:`~rses.weights.resolve_weights`.
        WeightsMismatchError: a known digest does not match (only with ``verify``).
    """
    reference, origin = reference_and_origin(spec, ref)
    path = Path(path) if path is not None else resolve_weights(spec, ref, allow_pickle=allow_pickle)
    kind, location, _ = parse_reference(reference, spec.revision)
    files = tuple(_weight_files(path))
    commit = next((p for p in reversed(path.absolute().parts) if _COMMIT.fullmatch(p)), None)
    identity = WeightIdentity(
        role=role,
        model=spec.name,
        reference=reference,
        origin=origin,
        resolved=str(path),
        repo=location if kind == "hub" else None,
        commit=commit if kind == "hub" else None,
        files=files,
        check="skipped" if not verify else "no known digest",
    )
    if verify:
        identity = replace(identity, check=verify_weights(spec, identity))
    return identity


def verify_weights(spec: WeightSpec, identity: WeightIdentity) -> str:
    """Check every file against what is known of it; returns ``"verified: <how>"`` or ``"no known digest"``.

    Raises:
        WeightsMismatchError: naming the file, the digest seen, the one expected, and the opt-out flag.
    """
    how = []
    single = len(identity.files) == 1
    for f in identity.files:
        path = Path(f.path)
        if single and spec.sha256:
            _expect(spec, f, f.sha256 == spec.sha256, f"sha256 {spec.sha256}")
            how.append("sha256 pinned")
        if path.suffix in {".pth", ".pt"} and (m := _TORCHVISION_NAME.search(path.stem)):
            _expect(spec, f, f.sha256.startswith(m[1]), f"a sha256 starting {m[1]} (torchvision's file name)")
            how.append(f"torchvision name {m[1]}")
        blob = Path(os.path.realpath(path)).name
        if path.is_symlink() and _HEX64.fullmatch(blob):
            _expect(spec, f, f.sha256 == blob, f"sha256 {blob} (the hub's etag)")
            how.append("hub etag")
        if single and spec.known_content and f.sha256 not in spec.known_sha256 and not how:
            content = tensor_content_sha256(path, spec.content_prefix)
            _expect(spec, f, content in spec.known_content, f"the known tensors of {spec.name}", content)
            how.append("known tensor content")
        elif single and f.sha256 in spec.known_sha256:
            how.append("known sha256")
    return f"verified: {', '.join(dict.fromkeys(how))}" if how else "no known digest"


def _expect(spec: WeightSpec, f: WeightFile, ok: bool, expected: str, seen: str | None = None) -> None:
    if not ok:
        raise WeightsMismatchError(
            f"Weights for {spec.name} at {f.path} are not what they claim to be: "
            f"{'tensor digest ' + seen if seen else 'sha256 ' + f.sha256}, expected {expected}. "
            f"Fetch the right file, or pass {SKIP_FLAG} to use it anyway (the run is then marked "
            "'weights unverified' and never ranked)."
        )


def _weight_files(path: Path) -> list[WeightFile]:
    if path.is_file():
        return [_weight_file(path, path.name)]
    files = [p for p in path.rglob("*") if p.is_file() and not _hidden(p.relative_to(path))]
    return [_weight_file(p, p.relative_to(path).as_posix()) for p in sorted(files)]


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _weight_file(path: Path, name: str) -> WeightFile:
    return WeightFile(name=name, path=str(path), size=path.stat().st_size, sha256=file_sha256(path))


def digest_cache_path() -> Path:
    """``$RSES_CACHE_DIR/weight-digests.json`` or ``~/.cache/rses/weight-digests.json``."""
    return cache_root() / DIGEST_CACHE


def file_sha256(path: Path) -> str:
    """The file's sha256, from the digest cache when (real path, size, mtime_ns, inode, ctime_ns) are the same."""
    return _cached(path, "sha256", lambda: sha256_file(path))


def tensor_content_sha256(path: Path, prefix: str = "") -> str:
    """sha256 over the tensors named ``prefix*`` (sorted names; each ``name:shape`` then float32 bytes).

    The same for a ``.safetensors`` file and a ``.pth`` state dict holding the same values, whatever else
    the file holds. A ``.pth`` is read with ``torch.load(weights_only=True)`` (pickle was opted in to reach
    here). Cached like :func:`file_sha256`.
    """

    def compute() -> str:
        import numpy as np

        if path.suffix == ".safetensors":
            from safetensors.numpy import load_file

            tensors = load_file(str(path))
        else:
            import torch

            state = torch.load(path, map_location="cpu", weights_only=True)
            tensors = {k: v.float().numpy() for k, v in state.items()}
        digest = hashlib.sha256()
        for name in sorted(k for k in tensors if k.startswith(prefix)):
            array = np.ascontiguousarray(tensors[name], dtype="<f4")
            digest.update(f"{name}:{array.shape}\n".encode())
            digest.update(array.tobytes())
        return digest.hexdigest()

    return _cached(path, f"content:{prefix}", compute)


def _cached(path: Path, what: str, compute: Any) -> str:
    st = os.stat(path)
    key = f"{what}|{os.path.realpath(path)}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}|{st.st_ctime_ns}"
    cache_file = digest_cache_path()
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    if not isinstance(cache, dict):
        cache = {}
    if isinstance(cache.get(key), str):
        return cache[key]
    value = compute()
    try:
        latest = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    except (OSError, ValueError):
        latest = {}
    latest = latest if isinstance(latest, dict) else {}
    try:
        write_atomic(cache_file, json.dumps({**latest, key: value}, indent=0), durable=False)
    except OSError:  # a read-only cache folder only costs the next run the hashing
        pass
    return value


def metric_identities(scorer: Any, clip_ref: str | None, lpips_ref: str | None, verify: bool = True) -> Any:
    """The :class:`WeightIdentity` of every learned model an :class:`rses.metrics.RSES` will load.

    The files are the ones the backends pick (a folder reference resolves to the checkpoint inside it).
    Empty for pixel metrics and smoke mode (without importing the backends, hence torch).
    """
    specs = scorer.weights()
    if not specs:
        return []
    from rses.metrics import backends

    allow_pickle = bool(scorer.options.allow_pickle)
    identities = []
    for spec in specs:
        if spec.env_var == backends.CLIP_ENV:
            path, role, ref = (
                backends.resolve_clip_checkpoint(spec, clip_ref, allow_pickle),
                "metric:clip",
                clip_ref,
            )
        else:
            net = scorer.options.lpips_net
            path, role, ref = (
                backends.resolve_lpips_backbone(net, lpips_ref, allow_pickle),
                "metric:lpips",
                lpips_ref,
            )
        identities.append(identify_weights(spec, ref, path=path, role=role, verify=verify))
    return identities
