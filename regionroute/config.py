"""RegionRoute training options: :class:`TrainConfig`, the named :data:`PRESETS`, and :func:`config_from`.

Example:
    >>> config_from("pixel-art", "paper-rank8", steps=10).rank, config_from("pixel-art", steps=10).steps
    (8, 10)
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any

from regionroute.experts import ExpertConfig
from regionroute.losses import AttentionLossConfig
from rses.errors import UsageError

#: Fields that change how a run proceeds or is watched but not what it learns: left out of the settings
#: hash, so a run can be resumed with more steps, another checkpoint interval or on another device.
RUN_FIELDS = (
    "steps",
    "checkpoint_every",
    "checkpoints_total_limit",
    "validate_every",
    "device",
    "offload_frozen",
    "gradient_checkpointing",
    "log_with",
)


@dataclass
class TrainConfig:
    """Training options. Defaults are the paper's (paper.md section 6) except tau/alpha (see below).

    ``lr`` 1e-4 (public code 1e-5), ``steps`` 5000 (code 10000), ``batch_size`` 2 per process x
    ``grad_accum`` 4, LoRA ``rank`` 4 on ``lora_blocks="all"``, ``lambda_cover`` 0.2 (code 5e-5).
    ``tau`` and ``alpha`` default (``None``) to ``1 / max_sequence_length`` and ``max_sequence_length``: the
    default map's values are near ``1 / T`` (T text tokens; ~2e-3 at 512), so ``A / tau`` and ``alpha * A``
    are ~1 where attention is even and the losses get a usable signal. The public code's 0.1 / 2.0 were tuned
    for its style-softmax map in [0, 1]; here ``alpha * A`` is ~0.01, so Cover's BCE stays at ln 2, and the
    losses' gradient is ~140x smaller (docs/regionroute.md, "tau and alpha").
    :data:`PRESETS` hold the paper's, the public code's and the Table-3 ablations' values.
    """

    style: str
    steps: int = 5000
    batch_size: int = 2
    grad_accum: int = 4
    lr: float = 1e-4
    lr_warmup_steps: int = 0
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    optimizer: str = "adamw"  # or "adamw8bit" (bitsandbytes)
    resolution: int = 1024
    max_sequence_length: int = 512
    guidance: float = 1.0
    attn_loss: bool = True
    layers: str = "all"
    tau: float | None = None
    alpha: float | None = None
    lambda_focus: float = 0.1
    lambda_cover: float = 0.2
    reduction: str = "per-layer"
    rank: int = 4
    lora_alpha: float | None = None
    lora_blocks: str = "all"
    mask_threshold: float | None = None
    mixed_precision: str = "no"
    seed: int = 0
    checkpoint_every: int = 500
    checkpoints_total_limit: int | None = None
    validate_every: int = 500
    device: str | None = None
    offload_frozen: bool = True
    gradient_checkpointing: bool = True
    log_with: str | None = None

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "grad_accum"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be >= 1, got {getattr(self, name)}.")
        self.expert  # noqa: B018 - validates rank and blocks
        self.losses  # noqa: B018 - validates tau and reduction

    @property
    def expert(self) -> ExpertConfig:
        """The LoRA expert's shape (rank, alpha, blocks) from this config."""
        return ExpertConfig(rank=self.rank, alpha=self.lora_alpha, blocks=self.lora_blocks)

    @property
    def losses(self) -> AttentionLossConfig:
        """The attention-loss settings from this config."""
        try:
            return AttentionLossConfig(
                1.0 / self.max_sequence_length if self.tau is None else self.tau,
                float(self.max_sequence_length) if self.alpha is None else self.alpha,
                self.lambda_focus,
                self.lambda_cover,
                self.reduction,
            )
        except ValueError as err:
            raise UsageError(str(err)) from None

    def settings(self) -> dict:
        """What the expert learns from: every field but :data:`RUN_FIELDS` (hashed into the index)."""
        return {k: v for k, v in asdict(self).items() if k not in RUN_FIELDS}

    def hyperparameters(self) -> dict:
        """The loss and optimisation values the experts index records."""
        keys = (
            "lr",
            "steps",
            "batch_size",
            "grad_accum",
            "tau",
            "alpha",
            "lambda_focus",
            "lambda_cover",
            "reduction",
            "rank",
            "lora_blocks",
            "max_sequence_length",
            "guidance",
            "seed",
            "resolution",
            "attn_loss",
            "optimizer",
            "mixed_precision",
        )
        losses = self.losses
        return {k: getattr(self, k) for k in keys} | {"tau": losses.tau, "alpha": losses.alpha}


_PAPER = dict(lr=1e-4, steps=5000, lambda_focus=0.1, lambda_cover=0.2, batch_size=2, grad_accum=4, rank=4)
#: Named settings; explicit options override them. ``paper`` is the paper's section-6 table; ``public-code``
#: is ``train.sh`` of bwchen05/RegionRoute (with its tau/alpha, tuned for its own map); the ``paper-*`` are
#: the ablations of the paper's Table 3 on top of ``paper``.
PRESETS: dict[str, dict] = {
    "paper": _PAPER,
    "public-code": dict(
        lr=1e-5,
        steps=10000,
        lambda_focus=0.1,
        lambda_cover=5e-5,
        batch_size=2,
        grad_accum=4,
        rank=4,
        max_sequence_length=77,
        tau=0.1,
        alpha=2.0,
    ),
    "paper-double-only": _PAPER | dict(lora_blocks="double"),
    "paper-single-only": _PAPER | dict(lora_blocks="single"),
    "paper-rank8": _PAPER | dict(rank=8),
    "paper-rank16": _PAPER | dict(rank=16),
    "paper-no-focus": _PAPER | dict(lambda_focus=0.0),
    "paper-no-cover": _PAPER | dict(lambda_cover=0.0),
}


def config_from(style: str, preset: str | None = None, **options: Any) -> TrainConfig:
    """A :class:`TrainConfig`: defaults, then ``preset``'s values, then the ``options`` that are not ``None``.

    Raises:
        UsageError: unknown preset or option.
    """
    if preset is not None and preset not in PRESETS:
        raise UsageError(f"Unknown preset {preset!r}; use one of {sorted(PRESETS)}.")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    values = (PRESETS[preset] if preset else {}) | {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UsageError(f"Unknown training option(s) {unknown}.")
    return TrainConfig(style=style, **values)
