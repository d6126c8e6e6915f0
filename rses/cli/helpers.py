"""Small helpers the command modules share: the command line as typed, ``--metrics`` parsing and checking,
``--device auto``, JSON option files and table cell formatting.

Nothing here imports torch, pandas or numpy at module level, so ``rses --help`` stays fast.
"""

from __future__ import annotations

import difflib
import json
import math
import shlex
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from rses.errors import UsageError

#: ``--metrics`` of the commands that read runs (``compare``, ``leaderboard``).
METRICS_HELP = "Only these metrics: names or groups (pixel, lpips, clip, vlm); repeat or comma-separate."


def command_line() -> str:
    """The command line as the user typed it, ``rses ...`` (recorded in run.json and baselines)."""
    return shlex.join(["rses", *sys.argv[1:]])


def metric_spec(metrics: Iterable[str] | None) -> list[str] | str:
    """Repeated and comma-separated ``--metrics`` values as one list of names, or ``"all"`` when none.

    Example:
        >>> metric_spec(["psnr_bg,mse_bg", " ssim_bg "]), metric_spec(None)
        (['psnr_bg', 'mse_bg', 'ssim_bg'], 'all')
    """
    names = [m.strip() for item in metrics or [] for m in item.split(",") if m.strip()]
    return names or "all"


def chosen_metrics(spec: str | Sequence[str], available: Sequence[str], where: str) -> list[str] | None:
    """The metrics a reading command (``compare``, ``leaderboard``) shows: ``None`` for all of ``available``.

    ``spec`` holds metric names, or the groups ``pixel``, ``lpips``, ``clip``, ``vlm`` (those of the group that
    ``available`` has) and ``all``. ``available`` is what the runs hold; ``where`` says which runs, for the error.

    Raises:
        UsageError: a name the runs do not hold (a misspelling, or a metric they were not scored with), naming
            the closest matches and what is available (exit 2).

    Example:
        >>> chosen_metrics(["psnr_bg"], ["mse_bg", "psnr_bg"], "the runs")
        ['psnr_bg']
        >>> chosen_metrics("all", ["mse_bg"], "the runs") is None
        True
    """
    if spec == "all" or "all" in spec:
        return None
    from rses.metrics.catalog import GROUPS, METRICS

    names: list[str] = []
    for item in spec:
        if item in available:
            names.append(item)
        elif item in GROUPS and any(METRICS[m].group == item for m in available if m in METRICS):
            names += [m for m in available if m in METRICS and METRICS[m].group == item]
        else:
            close = difflib.get_close_matches(item, [*available, *GROUPS], n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            what = "known metric" if item in METRICS or item in GROUPS else "metric"
            raise UsageError(
                f"--metrics {item!r}: no {what} of that name in {where}.{hint} "
                f"Available: {', '.join(available) or 'none'}."
            )
    return list(dict.fromkeys(names))


def json_object(path: Path | None, flag: str, what: str) -> dict:
    """The JSON object in file ``path`` (``{}`` when ``path`` is None), for option ``flag``.

    Raises:
        UsageError: the file cannot be read or parsed, or holds something other than an object.
    """
    if path is None:
        return {}
    try:
        overrides = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UsageError(f"{flag} {path}: cannot read a JSON object ({err}).") from None
    if not isinstance(overrides, dict):
        raise UsageError(f"{flag} {path} must hold a JSON object of {what}, got {type(overrides)}.")
    return overrides


#: ``--device`` help of the commands that run editors and metrics.
DEVICE_HELP = (
    "cpu, cuda, cuda:1, ... (auto: cuda when available and the run loads a model; a run of weight-free "
    "editors and pixel metrics stays on the CPU and never imports torch)."
)


def auto_device(device: str, loads_model: bool = True) -> str:
    """``device``, with ``auto`` resolved: ``cpu`` when the run loads no model (``loads_model``, see
    :func:`runs_a_model`), else ``cuda`` when torch sees a GPU, else ``cpu``.

    Only a run that loads a model asks torch (importing it: ~1.3 s, ~650 MB); a weight-free run computes on
    the CPU in NumPy and OpenCV, where a GPU would not help it.

    Example:
        >>> auto_device("auto", loads_model=False), auto_device("cuda:1")
        ('cpu', 'cuda:1')
    """
    if device != "auto":
        return device
    if not loads_model:
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def runs_a_model(methods: Iterable[str], metrics: str | Sequence[str]) -> bool:
    """Whether a run of the editors ``methods`` scored with ``metrics`` loads a model: a selected metric
    needs one (LPIPS, CLIP, VLM) or an editor declares weights (its class overrides
    :meth:`rses.editing.Editor.weights`). An unknown name counts as a model; the run reports it later.

    Example:
        >>> runs_a_model(["identity", "paste-style"], ["pixel"]), runs_a_model(["identity"], "all")
        (False, True)
    """
    from rses.editing import EDITORS, Editor
    from rses.metrics.catalog import METRICS, select_metrics

    try:
        if any(METRICS[name].needs for name in select_metrics(metrics)):
            return True
        return any(EDITORS.get(method).weights is not Editor.weights for method in methods)
    except UsageError:
        return True


def fmt(value: float | None, digits: str = ".4g") -> str:
    """A table cell: ``value`` formatted with ``digits``, or an en dash for None and NaN.

    Example:
        >>> fmt(0.123456), fmt(float("nan")), fmt(3.0, "+.2f")
        ('0.1235', '–', '+3.00')
    """
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, digits)
