"""Which weights an invocation needs, where rses looks for each, whether it is there, and how to fetch it.

The checks run offline (``HF_HUB_OFFLINE=1`` while they run): nothing is downloaded, so the answer is what a
run on this machine would find. ``rses weights`` prints it.

Example:
    >>> [w.name for w in needed_weights("paste-style", "pixel")]
    []
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from unittest.mock import patch

from rses.errors import UnsafeWeightsError, WeightsMismatchError, WeightsNotFoundError
from rses.weight_identity import identify_weights
from rses.weights import WeightSpec, gated_note, hub_cache_dir, parse_reference


@dataclass
class WeightStatus:
    """One needed weight: what it is, who needs it, where rses looks, and what it found there."""

    name: str
    needed_by: str
    looks_in: str  # the reference, where it came from, and the cache or path it resolves in
    status: str  # "found", "missing" or "refused" (a pickle file without --allow-pickle)
    path: str | None  # the file or folder found
    checked: str  # the outcome of the known-digest checks (``WeightIdentity.check``)
    fetch: str  # the exact command(s) that provide it
    problem: str  # the error a run would raise ("" when found)


@dataclass
class _Need:
    spec: WeightSpec
    needed_by: str
    ref: str | None
    check: Callable[[], object]
    fetch: str = ""
    also: str = ""  # what the default lookup tries after the default path


def needed_weights(
    method: str | None,
    metrics: str | Sequence[str],
    weights: str | None = None,
    clip_weights: str | None = None,
    lpips_weights: str | None = None,
    allow_pickle: bool = False,
) -> list[WeightStatus]:
    """The status of every weight that ``rses eval --method METHOD --metrics METRICS`` would load.

    Args:
        method: editor name, or ``None`` for the metrics alone (``rses score``).
        metrics: metric names or groups, as :func:`rses.metrics.select_metrics` takes them.
        weights: the same flag as ``rses eval``.
        clip_weights: the same flag as ``rses eval``.
        lpips_weights: the same flag as ``rses eval``.
        allow_pickle: the same flag as ``rses eval``.
    """
    needs = _editor_needs(method, weights) if method else []
    needs += _metric_needs(metrics, clip_weights, lpips_weights, allow_pickle)
    with _offline():
        return [_status(need) for need in needs]


def _editor_needs(method: str, weights: str | None) -> list[_Need]:
    from rses.editing import build_editor

    editor = build_editor(method, {"weights": weights} if weights else {})
    specs = editor.weights()
    if len(specs) == 1:  # the editor's own check (e.g. a diffusers folder needs model_index.json)
        return [_Need(specs[0], f"editor {method}", weights, editor.check_weights)]
    from rses.weights import resolve_weights

    return [_Need(s, f"editor {method}", None, lambda s=s: resolve_weights(s)) for s in specs]


def _metric_needs(
    metrics: str | Sequence[str], clip_weights: str | None, lpips_weights: str | None, allow_pickle: bool
) -> list[_Need]:
    from rses.checkpoints import safetensors_command
    from rses.metrics import METRICS, MetricSuite, select_metrics
    from rses.metrics import backends as b

    names = select_metrics(metrics)
    scorer = MetricSuite(metrics=names, allow_pickle=allow_pickle)
    o, out = scorer.options, []
    for spec in scorer.weights():
        if spec.env_var == b.CLIP_ENV:
            users = [n for n in names if "clip" in METRICS[n].needs]
            check = lambda spec=spec: b.resolve_clip_checkpoint(spec, clip_weights, allow_pickle)  # noqa: E731
            out.append(_Need(spec, f"metrics {', '.join(users)}", clip_weights, check))
        else:
            users = [n for n in names if "lpips" in METRICS[n].needs]
            pth = Path(b.path_of(spec.default)).with_suffix(".pth")
            fetch = f"{b.lpips_fetch_command(o.lpips_net)} then {safetensors_command(pth)}"
            check = lambda: b.resolve_lpips_backbone(o.lpips_net, lpips_weights, allow_pickle)  # noqa: E731
            also = (
                f", then {pth.name} (torchvision's own download; a pickle file: convert it or --allow-pickle)"
            )
            out.append(_Need(spec, f"metrics {', '.join(users)}", lpips_weights, check, fetch, also))
    return out


def _status(need: _Need) -> WeightStatus:
    spec = need.spec
    source = (
        "flag" if need.ref else "environment" if spec.env_var and os.environ.get(spec.env_var) else "default"
    )
    ref = need.ref or (os.environ.get(spec.env_var) if spec.env_var else None) or spec.default
    kind, location, revision = parse_reference(ref, spec.revision)
    pointers = " / ".join(p for p in (spec.flag, spec.env_var) if p)
    if kind == "hub":
        target = f"{location}/{spec.filename}" if spec.filename else location
        looks_in = f"hf-hub:{target} in the Hugging Face cache {hub_cache_dir()} ({source}; override with {pointers})"
        fetch = f"hf download {location}" + (f" {spec.filename}" if spec.filename else "")
        fetch += f" --revision {revision}" if revision else ""
        gated = gated_note(location)
        fetch = need.fetch or (f"{gated}; then {fetch}" if gated else fetch)
    else:
        also = need.also if source == "default" else ""
        location = str(Path(location).with_suffix(".safetensors")) if also else location
        looks_in = f"{location}{also} ({source}; override with {pointers})"
        fetch = need.fetch or f"put the weights at {location}"
    try:
        found = need.check()
    except UnsafeWeightsError as err:
        return WeightStatus(spec.name, need.needed_by, looks_in, "refused", None, "-", fetch, str(err))
    except WeightsNotFoundError as err:
        return WeightStatus(spec.name, need.needed_by, looks_in, "missing", None, "-", fetch, str(err))
    path = Path(found) if isinstance(found, (str, Path)) else _resolved(spec, need.ref)
    checked = "not checked (nothing found to check)"
    if path is not None and path.exists():
        try:  # the checks `rses eval` applies (pinned sha256, torchvision name, hub etag, known tensors)
            checked = identify_weights(spec, need.ref, path=path).check
        except WeightsMismatchError as err:
            return WeightStatus(
                spec.name, need.needed_by, looks_in, "refused", str(path), "MISMATCH", fetch, str(err)
            )
    return WeightStatus(spec.name, need.needed_by, looks_in, "found", str(path), checked, fetch, "")


def _resolved(spec: WeightSpec, ref: str | None) -> Path | None:
    from rses.weights import resolve_weights

    try:
        return resolve_weights(spec, ref, allow_pickle=True)
    except WeightsNotFoundError:
        return None


def _offline():
    """``HF_HUB_OFFLINE=1`` for the duration (the resolver reads it at call time); the environment is restored."""
    return patch.dict(os.environ, {"HF_HUB_OFFLINE": "1"})
