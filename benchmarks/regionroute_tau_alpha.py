"""Evidence for RegionRoute's tau/alpha defaults: loss signal and attention mass in the mask, tiny twin.

For the public code's tau 0.1 / alpha 2.0 and rses' defaults (1/T, T), on the built-in pixel-art pairs
(128 px, batch 2, lr 3e-3): the attention losses' gradient scale ``||dL/dA|| * ||A||`` at the start, and
Focus, Cover and the attention mass inside the mask before and after ``--steps`` steps. Prints JSON.

    python benchmarks/regionroute_tau_alpha.py --text-length 512 --steps 150
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from regionroute.train import (  # noqa: E402
    TrainConfig,
    encode_samples,
    evaluate_fixed_batch,
    prepare_transformer,
    samples_from_split,
    train,
    training_losses,
)
from rses.testing.flux import tiny_kontext_pipeline  # noqa: E402


def measure(text_length: int, steps: int, tau: float | None, alpha: float | None) -> dict:
    cfg = TrainConfig(style="pixel-art", steps=steps, batch_size=2, grad_accum=1, resolution=128,
                      max_sequence_length=text_length, lr=3e-3, validate_every=0, checkpoint_every=0,
                      device="cpu", tau=tau, alpha=alpha)  # fmt: skip
    pipe = tiny_kontext_pipeline(seed=0)
    samples = samples_from_split("train", "pixel-art")
    cache = encode_samples(pipe, samples, 128, text_length)
    fixed = torch.arange(2)
    prepare_transformer(pipe.transformer, cfg)
    before = evaluate_fixed_batch(pipe.transformer, cache, fixed, cfg)
    batch = cache.batch(fixed)
    noise = torch.randn(batch["target_latents"].shape, generator=torch.Generator().manual_seed(1))
    out = training_losses(pipe.transformer, batch, noise, torch.tensor([0.5, 0.5]), loss_config=cfg.losses)
    grad = torch.autograd.grad(out["attn"], out["maps"])[0]
    train(cfg, pipe, samples, tempfile.mkdtemp(), progress=False)
    after = evaluate_fixed_batch(pipe.transformer, cache, fixed, cfg)
    return {
        "tau": cfg.losses.tau,
        "alpha": cfg.losses.alpha,
        "grad_scale": float(grad.norm() * out["maps"].detach().norm()),
        "map_mean": float(out["maps"].mean()),
        "before": before,
        "after": after,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--text-length", type=int, default=512)
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args()
    result = {
        "text_length": args.text_length,
        "steps": args.steps,
        "public-code": measure(args.text_length, args.steps, 0.1, 2.0),
        "default": measure(args.text_length, args.steps, None, None),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
