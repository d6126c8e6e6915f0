"""`rses train regionroute`: train one RegionRoute style expert (its pseudo ground truth: `rses data pseudo-gt`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from rses.cli import options
from rses.cli.app import app, console
from rses.errors import UsageError

train_app = typer.Typer(
    help="Train methods (RegionRoute style experts).\n\n"
    "Example: rses train regionroute --style pixel-art --smoke --steps 2 --out runs/rr",
    no_args_is_help=True,
)
app.add_typer(train_app, name="train")


def _opt(flag: str, help: str, default: Any = None):
    return typer.Option(default, flag, help=help, show_default=default is not None)


@train_app.command("regionroute")
def train_regionroute(
    style: str = typer.Option(..., "--style", help="Style expert to train, e.g. pixel-art."),
    split: str = typer.Option("train", "--split", help="Split (name or manifest path) with target images."),
    out: Path = typer.Option(
        Path("runs/regionroute"),
        "--out",
        help="Experts folder: STYLE.safetensors + index.json, run in STYLE/.",
    ),
    preset: str = _opt(
        "--preset",
        "paper, public-code, or an ablation: paper-double-only, paper-single-only, "
        "paper-rank8, paper-rank16, paper-no-focus, paper-no-cover. Options given override it.",
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue OUT/STYLE from its newest checkpoint."),
    steps: int = _opt("--steps", "Optimizer steps (paper 5000, public code 10000)."),
    lr: float = _opt("--lr", "Learning rate (paper 1e-4, public code 1e-5)."),
    lr_warmup_steps: int = _opt("--lr-warmup-steps", "Linear warmup steps (default 0: constant)."),
    micro_batch_size: int = _opt("--micro-batch-size", "Samples per process per micro-step (default 2)."),
    old_batch_size: int = options.OLD_BATCH_SIZE,
    grad_accum: int = _opt("--grad-accum", "Micro-steps per optimizer step (default 4)."),
    resolution: int = _opt(
        "--resolution", "Training square side in px (default 1024; aspect kept by cropping)."
    ),
    text_length: int = _opt("--text-length", "T5 tokens (default 512 as Kontext; public code 77)."),
    guidance: float = _opt("--guidance", "Guidance embedding during training (default 1.0)."),
    tau: float = _opt("--tau", "Focus softmax temperature (default 1/text-length; public code 0.1)."),
    alpha: float = _opt("--alpha", "Cover logit scale (default text-length; public code 2.0)."),
    lambda_focus: float = _opt("--lambda-focus", "Focus weight (default 0.1; 0 = no Focus)."),
    lambda_cover: float = _opt(
        "--lambda-cover", "Cover weight (default 0.2, public code 5e-5; 0 = no Cover)."
    ),
    reduction: str = _opt("--reduction", "per-layer (code, default) or layer-averaged (paper)."),
    rank: int = _opt("--rank", "LoRA rank (default 4)."),
    lora_blocks: str = _opt("--lora-blocks", "LoRA in all (default), double or single-stream blocks."),
    attn_loss: bool = typer.Option(None, "--attn-loss/--no-attn-loss", help="Focus/Cover on (default)."),
    seed: int = _opt("--seed", "Seed of the expert's init, data order and noise (default 0)."),
    optimizer: str = _opt("--optimizer", "adamw (default) or adamw8bit (bitsandbytes)."),
    mixed_precision: str = _opt("--mixed-precision", "no (default), bf16 or fp16 (accelerate)."),
    mask_threshold: float = _opt("--mask-threshold", "Binarize soft masks at this share of their max."),
    checkpoint_every: int = _opt(
        "--checkpoint-every", "Checkpoint interval in steps (default 500; 0 = none)."
    ),
    checkpoints_total_limit: int = _opt("--checkpoints-total-limit", "Keep only the newest N checkpoints."),
    validate_every: int = _opt(
        "--validate-every", "Attention-map validation interval (default 500; 0 = none)."
    ),
    device: str = _opt(
        "--device", "cpu or cuda (default: accelerate's choice; `accelerate launch` sets it)."
    ),
    offload_frozen: bool = typer.Option(
        None,
        "--offload-frozen/--keep-frozen",
        help="Move text encoders and VAE to CPU once cached (default on).",
    ),
    log_with: str = _opt("--log-with", "Also log to tensorboard (or wandb, ...; needs the package)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bar."),
    weights: str = typer.Option(
        None, "--weights", help="FLUX.1-Kontext-dev reference (else RSES_KONTEXT_WEIGHTS)."
    ),
    smoke: bool = typer.Option(
        False, "--smoke", help="Tiny random pipeline, 64 px, 32 tokens: tests the plumbing only."
    ),
    allow_pickle: bool = typer.Option(
        False, "--allow-pickle", help="Allow pickle checkpoints (they can run code); or RSES_ALLOW_PICKLE=1."
    ),
) -> None:
    """Train one RegionRoute style expert into an experts folder.

    Example: rses train regionroute --style pixel-art --smoke --steps 2 --out runs/rr
    """
    if allow_pickle:
        os.environ["RSES_ALLOW_PICKLE"] = "1"  # what every weight lookup reads, for this command's process
    batch_size = options.renamed_option(micro_batch_size, old_batch_size, "--micro-batch-size")
    from regionroute.train import config_from, samples_from_split, train

    if device is not None and device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UsageError(f"--device {device}: no CUDA device is available here; use --device cpu.")
    cfg = config_from(
        style,
        preset,
        steps=steps,
        lr=lr,
        lr_warmup_steps=lr_warmup_steps,
        batch_size=batch_size,  # TrainConfig.batch_size: samples per process per micro-step (--micro-batch-size)
        grad_accum=grad_accum,
        resolution=64 if smoke and resolution is None else resolution,
        max_sequence_length=32 if smoke and text_length is None else text_length,
        guidance=guidance,
        tau=tau,
        alpha=alpha,
        lambda_focus=lambda_focus,
        lambda_cover=lambda_cover,
        reduction=reduction,
        rank=rank,
        lora_blocks=lora_blocks,
        attn_loss=attn_loss,
        seed=seed,
        optimizer=optimizer,
        mixed_precision=mixed_precision,
        mask_threshold=mask_threshold,
        checkpoint_every=checkpoint_every,
        checkpoints_total_limit=checkpoints_total_limit,
        validate_every=validate_every,
        device=device,
        offload_frozen=offload_frozen,
        log_with=log_with,
    )
    samples = samples_from_split(split, style)
    if smoke:
        from rses.testing.flux import tiny_kontext_pipeline

        pipe, base = tiny_kontext_pipeline(seed=0), "rses.testing.flux:tiny_kontext_pipeline(seed=0)"
    else:
        import torch
        from diffusers import FluxKontextPipeline

        from baselines.kontext import KontextConfig, KontextEditor
        from rses.weights import pickle_allowed

        folder = KontextEditor(KontextConfig(weights=weights)).weights_dir()
        pipe, base = (
            FluxKontextPipeline.from_pretrained(
                folder, torch_dtype=torch.bfloat16, use_safetensors=not pickle_allowed()
            ),
            str(folder),
        )
    result = train(cfg, pipe, samples, out, resume=resume, progress=progress, base_model=base)
    last = result.history[-1] if result.history else {}
    if not result.is_main_process:
        return
    console.print(
        f"expert {result.expert_path} after {len(result.history)} steps; last "
        + ", ".join(f"{k}={v:.4g}" for k, v in last.items() if k not in ("step", "seconds"))
    )
