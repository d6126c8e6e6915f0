"""Command-line options shared by every command that scores: declared once, so names, defaults and help agree.

The options that shape a metric's numbers (:data:`METRIC_OPTIONS`) appear identically on ``rses score``,
``rses eval`` and the suite runner; :func:`metric_options` turns their values into :class:`rses.metrics.RSES`
keyword arguments (recorded in ``run.json`` as ``metric_config``). A command declares them as defaults::

    from rses.cli import options

    @app.command()
    def my_command(
        mask_threshold: float | None = options.MASK_THRESHOLD,
        boundary: int = options.BOUNDARY,
        allow_pickle: bool = options.ALLOW_PICKLE,
        metric_batch_size: int = options.METRIC_BATCH_SIZE,
    ) -> None:
        metric_kwargs = options.metric_options(mask_threshold, boundary, allow_pickle, metric_batch_size)

:func:`check_device` is the one-line check of ``--device`` that every command taking it runs before any work.
"""

from __future__ import annotations

from typing import Any

import typer

from rses.checkpoints import pickle_opt_in  # noqa: F401  (re-exported for the commands)
from rses.errors import UsageError
from rses.metrics.suite_config import MetricSuiteConfig

DEFAULTS = MetricSuiteConfig()  # the metric options' defaults (the config module imports no model library)

MASK_THRESHOLD = typer.Option(
    None,
    "--mask-threshold",
    help="Binarize soft masks (e.g. JPEG masks) at this level (0-1); without it a non-binary mask is an error.",
)
BOUNDARY = typer.Option(
    DEFAULTS.boundary, "--boundary", help="Exclude background pixels within this many px of the mask."
)
ALLOW_PICKLE = typer.Option(
    False,
    "--allow-pickle",
    help="Allow pickle (.pth/.bin) checkpoints (they can run code when loaded); or RSES_ALLOW_PICKLE=1.",
)
METRIC_BATCH_SIZE = typer.Option(
    DEFAULTS.batch_size,
    "--metric-batch-size",
    help="Images per LPIPS/CLIP backbone call (memory vs speed; numbers do not change) [default: 4 on a CPU, "
    "32 on a GPU].",
)
CROP_POLICY = typer.Option(
    DEFAULTS.crop_policy,
    "--crop-policy",
    help="How CLIP sees a region: letterbox, tile or center-crop (the paper's; see docs/metrics.md).",
)
METRIC_DTYPE = typer.Option(
    "fp32",
    "--metric-dtype",
    help="Learned-metric precision: fp32, bf16 or fp16 (opt-in; see docs/metrics.md).",
)

EDIT_BATCH_SIZE = typer.Option(
    None, "--edit-batch-size", "-b", show_default=False, help="Samples per editor call [default: 1]."
)
#: The old spelling of --edit-batch-size (and of train's --micro-batch-size): hidden, kept for one release.
OLD_BATCH_SIZE = typer.Option(None, "--batch-size", hidden=True, help="Deprecated: see the new name.")

#: The metric-shaping options: parameter name -> the shared option. Commands that score declare all of them.
METRIC_OPTIONS = {
    "mask_threshold": MASK_THRESHOLD,
    "boundary": BOUNDARY,
    "allow_pickle": ALLOW_PICKLE,
    "metric_batch_size": METRIC_BATCH_SIZE,
    "crop_policy": CROP_POLICY,
    "metric_dtype": METRIC_DTYPE,
}


def metric_options(
    mask_threshold: float | None, boundary: int, allow_pickle: bool, metric_batch_size: int
) -> dict[str, Any]:
    """The shared options' values as :class:`rses.metrics.RSESConfig` fields, checked.

    Raises:
        UsageError: a value out of range (threshold outside [0, 1], negative boundary, batch size < 1).

    Example:
        >>> metric_options(0.5, 2, False, 8)
        {'mask_threshold': 0.5, 'boundary': 2, 'allow_pickle': False, 'batch_size': 8}
    """
    if mask_threshold is not None and not 0.0 <= mask_threshold <= 1.0:
        raise UsageError(f"--mask-threshold must lie in [0, 1], got {mask_threshold}.")
    if boundary < 0:
        raise UsageError(f"--boundary must be >= 0 pixels, got {boundary}.")
    if metric_batch_size is not None and metric_batch_size < 1:
        raise UsageError(f"--metric-batch-size must be >= 1, got {metric_batch_size}.")
    return {
        "mask_threshold": mask_threshold,
        "boundary": boundary,
        "allow_pickle": allow_pickle,
        "batch_size": metric_batch_size,
    }


#: metric_options() key -> the command parameter that sets it.
_PARAMETER_OF = {"mask_threshold": "mask_threshold", "boundary": "boundary", "allow_pickle": "allow_pickle",
                 "batch_size": "metric_batch_size"}  # fmt: skip


def given_on_command_line(ctx: typer.Context, values: dict[str, Any]) -> dict[str, Any]:
    """The entries of :func:`metric_options`'s result whose option the user gave (command line or environment,
    not the default), so that they, and only they, override a ``--metric-config`` file.
    """
    sources = {key: ctx.get_parameter_source(_PARAMETER_OF[key]) for key in values}
    return {
        key: value
        for key, value in values.items()
        if sources[key] is not None and sources[key].name != "DEFAULT"
    }


def renamed_option(
    new: int | None, old: int | None, new_flag: str, old_flag: str = "--batch-size"
) -> int | None:
    """The value of an option renamed from ``old_flag`` to ``new_flag``: whichever was given (None: neither).

    Raises:
        UsageError: both given with different values, or a value below 1.

    Example:
        >>> renamed_option(None, 4, "--edit-batch-size"), renamed_option(3, 3, "--edit-batch-size")
        (4, 3)
    """
    if new is not None and old is not None and new != old:
        raise UsageError(
            f"{old_flag} {old} and {new_flag} {new} disagree; {old_flag} is the old name of {new_flag}: "
            f"use {new_flag} alone."
        )
    value = new if new is not None else old
    if value is not None and value < 1:
        raise UsageError(f"{new_flag} must be >= 1, got {value}.")
    return value


def check_device(device: str) -> str:
    """Check that a torch device string names a device this machine has; return it unchanged.

    ``auto`` and ``cpu`` always pass. Runs before any model is loaded or any sample is read.

    Raises:
        UsageError: an unknown device string, or a backend (CUDA, MPS) or CUDA index this machine lacks.

    Example:
        >>> check_device("cpu")
        'cpu'
    """
    if device in {"auto", "cpu"}:
        return device
    import torch

    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise UsageError(
            f"--device {device} is not a torch device; use cpu, cuda, cuda:N, mps or auto."
        ) from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UsageError(
                f"--device {device}: this machine has no CUDA GPU visible to torch; use --device cpu."
            )
        if parsed.index is not None and parsed.index >= count:
            raise UsageError(
                f"--device {device}: this machine has {count} CUDA GPU(s) (cuda:0 to cuda:{count - 1})."
            )
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(
            f"--device {device}: MPS (Apple GPU) is not available on this machine; use --device cpu."
        )
    elif parsed.type not in {"cpu", "cuda", "mps"}:
        raise UsageError(f"--device {device}: rses runs on cpu, cuda or mps, not {parsed.type}.")
    return device
