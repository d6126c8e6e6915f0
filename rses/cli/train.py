"""`rses train regionroute` and `rses data pseudo-gt` (RegionRoute training and its pseudo ground truth)."""

from __future__ import annotations

from pathlib import Path

import typer

from rses.cli.app import app, console
from rses.cli.data import data_app

train_app = typer.Typer(help="Train methods (RegionRoute style experts).", no_args_is_help=True)
app.add_typer(train_app, name="train")


@train_app.command("regionroute")
def train_regionroute(
    style: str = typer.Option(..., "--style", help="Style expert to train, e.g. pixel-art."),
    split: str = typer.Option("train", "--split", help="Split (name or manifest path) with target images."),
    out: Path = typer.Option(None, "--out", help="Output dir (default runs/regionroute/STYLE)."),
    steps: int = typer.Option(5000, "--steps", help="Optimizer steps (paper 5000, public code 10000)."),
    lr: float = typer.Option(1e-4, "--lr", help="Learning rate (paper 1e-4, public code 1e-5)."),
    batch_size: int = typer.Option(2, "--batch-size"),
    grad_accum: int = typer.Option(4, "--grad-accum"),
    resolution: int = typer.Option(1024, "--resolution"),
    lambda_focus: float = typer.Option(0.1, "--lambda-focus"),
    lambda_cover: float = typer.Option(0.2, "--lambda-cover", help="Paper 0.2; the public code used 5e-5."),
    reduction: str = typer.Option(
        "per-layer", "--reduction", help="per-layer (code) or layer-averaged (paper)."
    ),
    softmax_over: str = typer.Option("text", "--softmax-over", help="text or style (public code)."),
    attn_loss: bool = typer.Option(True, "--attn-loss/--no-attn-loss"),
    optimizer: str = typer.Option("adamw", "--optimizer", help="adamw or adamw8bit (bitsandbytes)."),
    mixed_precision: str = typer.Option("no", "--mixed-precision", help="no, bf16 or fp16 (accelerate)."),
    weights: str = typer.Option(
        None, "--weights", help="FLUX.1-Kontext-dev reference (else RSES_KONTEXT_WEIGHTS)."
    ),
    smoke: bool = typer.Option(
        False, "--smoke", help="Tiny random pipeline, 64 px: tests the plumbing only."
    ),
) -> None:
    """Train one RegionRoute style expert. Example: rses train regionroute --style pixel-art --smoke --steps 2"""
    from regionroute.losses import AttentionLossConfig
    from regionroute.train import TrainConfig, samples_from_split, train

    cfg = TrainConfig(
        style=style,
        steps=steps,
        lr=lr,
        batch_size=batch_size,
        grad_accum=grad_accum,
        resolution=64 if smoke else resolution,
        max_sequence_length=32 if smoke else 512,
        attn_loss=attn_loss,
        optimizer=optimizer,
        mixed_precision=mixed_precision,
        softmax_over=softmax_over,
        losses=AttentionLossConfig(lambda_focus=lambda_focus, lambda_cover=lambda_cover, reduction=reduction),
    )
    samples = samples_from_split(split, style)
    if smoke:
        from rses.testing.flux import tiny_kontext_pipeline

        pipe = tiny_kontext_pipeline(seed=0)
    else:
        import torch
        from diffusers import FluxKontextPipeline

        from baselines.kontext import KontextConfig, KontextEditor
        from rses.weights import pickle_allowed

        pipe = FluxKontextPipeline.from_pretrained(
            KontextEditor(KontextConfig(weights=weights)).weights_dir(),
            torch_dtype=torch.bfloat16,
            use_safetensors=not pickle_allowed(),
        )
    result = train(cfg, pipe, samples, out or Path("runs") / "regionroute" / style)
    last = result.history[-1] if result.history else {}
    console.print(
        f"expert {result.expert_path} after {len(result.history)} steps; last losses "
        + ", ".join(f"{k}={v:.4g}" for k, v in last.items() if k != "step")
    )


@data_app.command("pseudo-gt")
def pseudo_gt(
    split: str = typer.Option("train", "--split", help="Split whose (source, mask, prompt) get targets."),
    out: Path = typer.Option(..., "--out", help="Output dir for targets/ and pseudo_gt.jsonl."),
    stylizer: str = typer.Option("classical", "--stylizer", help="classical or kontext."),
    blend: str = typer.Option("seamless", "--blend", help="seamless (Poisson) or alpha (hard paste)."),
    device: str = typer.Option("cpu", "--device"),
    smoke: bool = typer.Option(False, "--smoke", help="With --stylizer kontext: tiny random pipeline."),
) -> None:
    """Build a (source, target, mask, prompt) training set. Example: rses data pseudo-gt --out pgt --blend alpha"""
    from regionroute.pseudo_gt import build_pseudo_gt

    manifest = build_pseudo_gt(split, out, stylizer, blend, device, smoke)
    console.print(f"wrote {manifest}")
