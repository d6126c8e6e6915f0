"""Step-time overhead of RegionRoute's attention losses over the same LoRA step without them (tiny Kontext).

Run: ``pytest benchmarks/test_regionroute_step.py --benchmark-enable -s``. Target: overhead < 15 %.
"""

import time

import pytest
import torch

from regionroute.train import (
    TrainConfig,
    encode_samples,
    prepare_transformer,
    samples_from_split,
    training_losses,
)
from rses.testing.flux import tiny_kontext_pipeline


@pytest.fixture(scope="module")
def setup():
    pipe = tiny_kontext_pipeline(seed=0)
    cfg = TrainConfig(style="pixel-art", resolution=128, max_sequence_length=32, gradient_checkpointing=False)
    cache = encode_samples(pipe, samples_from_split("train", "pixel-art"), 128, 32)
    prepare_transformer(pipe.transformer, cfg)
    batch = cache.batch(torch.arange(2))
    return pipe.transformer, batch, torch.randn_like(batch["target_latents"]), torch.tensor([0.3, 0.7])


def _step(transformer, batch, noise, sig, attn_loss):
    out = training_losses(transformer, batch, noise, sig, attn_loss=attn_loss)
    out["loss"].backward()
    transformer.zero_grad(set_to_none=True)


@pytest.mark.parametrize("attn_loss", [False, True], ids=["lora-only", "lora+attention-losses"])
def test_step(benchmark, setup, attn_loss):
    benchmark(_step, *setup, attn_loss)


def test_overhead_ratio(setup):
    """Interleaved min-of-N timing of both variants in one process; prints and checks the ratio."""
    times = {False: [], True: []}
    for _ in range(3):
        _step(*setup, True)
    for _ in range(30):
        for flag in (False, True):
            t = time.perf_counter()
            _step(*setup, flag)
            times[flag].append(time.perf_counter() - t)
    base, attn = sorted(times[False])[5], sorted(times[True])[5]
    print(
        f"tiny step: lora-only {base * 1e3:.2f} ms, with attention losses {attn * 1e3:.2f} ms, "
        f"overhead {100 * (attn / base - 1):.1f}%"
    )
    assert attn / base < 1.15
