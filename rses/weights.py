"""Weight resolution in one place: a model reference -> local files, or one clear error.

A reference is one of

* ``hf-hub:ORG/REPO`` or ``ORG/REPO`` (optionally ``@REVISION``): looked up in the Hugging Face cache, and
  downloaded only when ``HF_HUB_OFFLINE`` is not set;
* ``local-dir:PATH`` / ``file:PATH`` / a plain existing path: used as is.

The reference comes from, in order: the explicit argument (a CLI flag), the spec's environment variable,
the spec's default. Pickle checkpoints, recognised by their bytes whatever their name
(:mod:`rses.checkpoints`), are refused unless the caller or ``RSES_ALLOW_PICKLE=1`` opts in; a malformed
safetensors file is an error naming it.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "model.safetensors").write_bytes((2).to_bytes(8, "little") + b"{}")  # header "{}": no tensors
    >>> spec = WeightSpec(name="demo", default="hf-hub:org/demo", env_var="RSES_DEMO_WEIGHTS")
    >>> resolve_weights(spec, f"local-dir:{d}") == d
    True
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rses.checkpoints import check_file, check_folder
from rses.errors import RsesError, UnsafeWeightsError, WeightsNotFoundError
from rses.io import sha256_file  # moved to rses.io; also importable from here for one release

HUB_PREFIX = "hf-hub:"
LOCAL_PREFIXES = ("local-dir:", "file:")
#: Hub repositories that need an accepted licence and a logged-in user before they can be downloaded.
GATED_HUB_REPOS = frozenset({"black-forest-labs/FLUX.1-Kontext-dev", "black-forest-labs/FLUX.1-dev"})


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
        known_sha256: file digests known to be this model (e.g. a published conversion); a file with one of
            them is verified without reading its tensors.
        known_content: :func:`tensor_content_sha256` digests known to be this model: any other file whose
            tensors (those named ``content_prefix*``) differ is refused by :func:`verify_weights`.
        content_prefix: which tensors the content digest covers (e.g. ``"features."``, LPIPS' trunk).
    """

    name: str
    default: str
    revision: str | None = None
    filename: str | None = None
    allow_patterns: tuple[str, ...] | None = None
    env_var: str | None = None
    flag: str | None = None
    sha256: str | None = None
    known_sha256: tuple[str, ...] = ()
    known_content: tuple[str, ...] = ()
    content_prefix: str = ""


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
    """Refuse pickle weights unless the user opted in (pickle files can run arbitrary code when loaded), and
    malformed safetensors files always; see :mod:`rses.checkpoints`.

    A file is refused unless it is safetensors by content; a directory (a diffusers folder, a hub snapshot)
    when a ``.safetensors`` file in it is malformed, or some folder in it holds pickle checkpoints and no
    ``.safetensors`` file to load instead.

    Raises:
        UnsafeWeightsError: pickle weights and pickle was not allowed.
        CheckpointError: a malformed or mislabelled checkpoint file.
    """
    if path.is_dir():
        check_folder(path, pickle_allowed(allow_pickle))
    elif path.exists() or path.is_symlink():  # a missing file is the loader's "not found"
        check_file(path, pickle_allowed(allow_pickle))


def gated_note(repo: str) -> str:
    """What a user must do before downloading a gated hub repository ("" for an open one)."""
    if repo not in GATED_HUB_REPOS:
        return ""
    return (
        f"{repo} is gated: first accept its licence at https://huggingface.co/{repo} and log in with "
        "`hf auth login` (a read token)"
    )


class MissingWeightsError(WeightsNotFoundError):
    """Several weights of one invocation are missing; ``problems`` holds each one's message."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        listed = " ".join(f"({i}) {p}" for i, p in enumerate(self.problems, 1))
        super().__init__(
            f"{len(self.problems)} weights are missing for this command (all listed, so one trip fixes them; "
            f"`rses weights` shows the whole picture): {listed}"
        )


def check_all(checks: Sequence[Callable[[], object]]) -> None:
    """Run every weight check, then raise one error naming every weight that is missing or unsafe.

    A single problem keeps its own error (and message); several become one :class:`MissingWeightsError`.

    Example:
        >>> check_all([lambda: None])
    """
    problems: list[RsesError] = []
    for check in checks:
        try:
            check()
        except MissingWeightsError as err:
            problems.extend(WeightsNotFoundError(p) for p in err.problems)
        except (WeightsNotFoundError, UnsafeWeightsError) as err:
            problems.append(err)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise MissingWeightsError([str(p) for p in problems])


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
    hub reference or a spec whose default is on the hub).
    """
    kind, location, default_revision = parse_reference(spec.default, spec.revision)
    if repo is None and kind == "hub":
        repo, revision = location, default_revision
    ways = []
    if repo:
        fetch = f"hf download {repo}" + (f" {spec.filename}" if spec.filename else "")
        fetch += f" --revision {revision}" if revision else ""
        gated = gated_note(repo)
        ways.append(
            (f"{gated}; then " if gated else "")
            + f"on a machine with network run `{fetch}` (then copy the Hugging Face cache here or set HF_HOME "
            "to it)"
        )
    elif location:
        ways.append(f"put them at {location}")
    pointers = [p for p in (spec.flag and f"{spec.flag} PATH", spec.env_var and f"{spec.env_var}=PATH") if p]
    if pointers:
        ways.append(f"point rses at a local copy with {' or '.join(pointers)}")
    return f"Weights for {spec.name} not found. Looked in: {where}. To provide them: {', or '.join(ways)}."


#: The VLM judge of ``--metrics vlm`` (:mod:`rses.metrics.vlm`): Qwen2.5-VL-7B-Instruct at a pinned commit.
QWEN_VL_JUDGE = WeightSpec(
    name="VLM judge Qwen2.5-VL-7B-Instruct",
    default="hf-hub:Qwen/Qwen2.5-VL-7B-Instruct",
    revision="cc594898137f460bfe9f0759e9844b3ce807cfb5",
    allow_patterns=("*.json", "*.safetensors", "*.jinja", "*.txt"),
    env_var="RSES_VLM_WEIGHTS",
    flag="--vlm-weights",
)
