"""Weight resolution in one place: a model reference -> local files, or one clear error.

A reference is one of

* ``hf-hub:ORG/REPO`` or ``ORG/REPO`` (optionally ``@REVISION``): looked up in the Hugging Face cache, and
  downloaded only when ``HF_HUB_OFFLINE`` is not set;
* ``local-dir:PATH`` / ``file:PATH`` / a plain existing path: used as is.

The reference comes from, in order: the explicit argument (a CLI flag), the spec's environment variable,
the spec's default. Pickle checkpoints (``.bin .pt .pth .ckpt .pkl``) are refused unless the caller or
``RSES_ALLOW_PICKLE=1`` opts in.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "model.safetensors").write_bytes(b"")
    >>> spec = WeightSpec(name="demo", default="hf-hub:org/demo", env_var="RSES_DEMO_WEIGHTS")
    >>> resolve_weights(spec, f"local-dir:{d}") == d
    True
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from rses.errors import UnsafeWeightsError, WeightsNotFoundError

PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".ckpt", ".pkl"})
HUB_PREFIX = "hf-hub:"
LOCAL_PREFIXES = ("local-dir:", "file:")


@dataclass(frozen=True)
class WeightSpec:
    """Where a learned model's weights come from by default, and how a user points elsewhere.

    Args:
        name: human-readable model name used in messages, e.g. ``"CLIP ViT-B-32 (openai)"``.
        default: the default reference (see the module docstring).
        revision: hub revision (branch, tag or commit) used with a hub reference that names none.
        filename: a single file inside a hub repo; ``None`` resolves the whole snapshot (a directory).
        allow_patterns: files to fetch for a snapshot (e.g. only ``*.safetensors`` and configs).
        env_var: environment variable that overrides ``default``.
        flag: CLI flag that overrides ``default`` (named in the error message).
        sha256: expected hash of a single-file checkpoint; a mismatch is an error.
    """

    name: str
    default: str
    revision: str | None = None
    filename: str | None = None
    allow_patterns: tuple[str, ...] | None = None
    env_var: str | None = None
    flag: str | None = None
    sha256: str | None = None


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` is set to a true value (read at call time, not import time)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache, honouring ``HF_HUB_CACHE`` and ``HF_HOME`` at call time."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return Path(home) / "hub"


def pickle_allowed(allow_pickle: bool = False) -> bool:
    """Whether pickle checkpoints may be loaded: the argument, or ``RSES_ALLOW_PICKLE=1``."""
    return allow_pickle or os.environ.get("RSES_ALLOW_PICKLE", "") in {"1", "true", "yes"}


def check_safe_format(path: Path, allow_pickle: bool = False) -> None:
    """Refuse pickle weights unless the user opted in; pickle files can run arbitrary code when loaded.

    A file is refused when it is a pickle checkpoint; a directory (a diffusers folder, a hub snapshot) when
    some folder in it holds pickle checkpoints and no ``.safetensors`` file to load instead.

    Raises:
        UnsafeWeightsError: pickle weights and pickle was not allowed.
    """
    if pickle_allowed(allow_pickle):
        return
    if path.is_file() and path.suffix.lower() in PICKLE_SUFFIXES:
        pickles = [path]
    elif path.is_dir():
        folders = {p.parent for p in path.rglob("*") if p.suffix.lower() in PICKLE_SUFFIXES}
        pickles = sorted(f for f in folders if not any(f.glob("*.safetensors")))
    else:
        pickles = []
    if pickles:
        raise UnsafeWeightsError(
            f"Refusing to load pickle checkpoint(s) in {', '.join(map(str, pickles[:3]))}: pickle files can "
            "execute code when loaded. Convert them to .safetensors, or opt in with --allow-pickle / "
            "RSES_ALLOW_PICKLE=1 if you trust them."
        )


def parse_reference(ref: str, default_revision: str | None = None) -> tuple[str, str, str | None]:
    """Split a reference into ``(kind, location, revision)`` with kind ``"hub"`` or ``"local"``.

    Example:
        >>> parse_reference("hf-hub:openai/clip@v1")
        ('hub', 'openai/clip', 'v1')
        >>> parse_reference("local-dir:/models/clip")
        ('local', '/models/clip', None)
    """
    for prefix in LOCAL_PREFIXES:
        if ref.startswith(prefix):
            return "local", ref[len(prefix) :], None
    if ref.startswith(HUB_PREFIX):
        ref = ref[len(HUB_PREFIX) :]
    elif Path(ref).expanduser().exists() or ref.startswith((".", "/", "~")) or ref.count("/") != 1:
        return "local", ref, None
    repo, _, revision = ref.partition("@")
    return "hub", repo, revision or default_revision


def resolve_weights(spec: WeightSpec, ref: str | None = None, *, allow_pickle: bool = False) -> Path:
    """Resolve ``spec`` (or the override ``ref``) to a local file or directory.

    Raises:
        WeightsNotFoundError: nothing found; the message names the model, where it looked, and how to
            provide the weights.
        UnsafeWeightsError: the file is a pickle checkpoint and pickle was not allowed.
    """
    if ref is None and spec.env_var:
        ref = os.environ.get(spec.env_var) or None
    ref = ref or spec.default
    kind, location, revision = parse_reference(ref, spec.revision)
    if kind == "local":
        path = Path(location).expanduser()
        if not path.exists():
            raise WeightsNotFoundError(_missing_message(spec, f"local path {path} (does not exist)"))
    else:
        path = _resolve_hub(spec, location, revision)
    check_safe_format(path, allow_pickle)
    if spec.sha256 and path.is_file():
        digest = sha256_file(path)
        if digest != spec.sha256:
            raise WeightsNotFoundError(
                f"Weights for {spec.name} at {path} have sha256 {digest}, expected {spec.sha256}. "
                "The file is corrupt or a different version: fetch it again."
            )
    return path


def _resolve_hub(spec: WeightSpec, repo: str, revision: str | None) -> Path:
    from huggingface_hub import hf_hub_download, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    offline = hub_offline()
    cache = hub_cache_dir()
    unreachable = False
    try:
        if spec.filename:
            unreachable = not offline and not _hub_answers(repo, spec.filename, revision)
            return Path(
                hf_hub_download(
                    repo,
                    spec.filename,
                    revision=revision,
                    cache_dir=cache,
                    local_files_only=offline or unreachable,
                )
            )
        return Path(
            snapshot_download(
                repo,
                revision=revision,
                cache_dir=cache,
                local_files_only=offline,
                allow_patterns=list(spec.allow_patterns) if spec.allow_patterns else None,
            )
        )
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError, ValueError) as err:
        target = f"{repo}/{spec.filename}" if spec.filename else repo
        where = (
            f"hf-hub:{target} (revision {revision or 'main'}) in the Hugging Face cache {cache}"
            f"{'; HF_HUB_OFFLINE is set, so nothing was downloaded' if offline else ''}"
            f"{'; the hub could not be reached' if unreachable else ''}"
            f" [{type(err).__name__}]"
        )
        raise WeightsNotFoundError(_missing_message(spec, where, repo, revision)) from err


def _hub_answers(repo: str, filename: str, revision: str | None) -> bool:
    """Whether the hub answers a request for the file's metadata (any HTTP answer counts), asked once.

    huggingface_hub retries a lookup that gets no answer for ~25 s before it falls back to the cache; with no
    network the run should stop (or go on from the cache) at once instead.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    try:
        get_hf_file_metadata(hf_hub_url(repo, filename, revision=revision))
    except HfHubHTTPError:
        return True  # e.g. not found or gated: hf_hub_download says which, or uses the cache
    except Exception:  # noqa: BLE001  (no answer: DNS, connection, timeout; the types vary by version)
        return False
    return True


def _missing_message(
    spec: WeightSpec, where: str, repo: str | None = None, revision: str | None = None
) -> str:
    """The not-found message: what was looked for, where, and how to provide it (``hf download`` only for a
    hub reference or a spec whose default is on the hub)."""
    kind, location, default_revision = parse_reference(spec.default, spec.revision)
    if repo is None and kind == "hub":
        repo, revision = location, default_revision
    ways = []
    if repo:
        fetch = f"hf download {repo}" + (f" {spec.filename}" if spec.filename else "")
        fetch += f" --revision {revision}" if revision else ""
        ways.append(
            f"on a machine with network run `{fetch}` (then copy the Hugging Face cache here or set HF_HOME to it)"
        )
    elif location:
        ways.append(f"put them at {location}")
    pointers = [p for p in (spec.flag and f"{spec.flag} PATH", spec.env_var and f"{spec.env_var}=PATH") if p]
    if pointers:
        ways.append(f"point rses at a local copy with {' or '.join(pointers)}")
    return f"Weights for {spec.name} not found. Looked in: {where}. To provide them: {', or '.join(ways)}."


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """The hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
