"""Step-time overhead of RegionRoute's attention losses over the same LoRA step without them (tiny Kontext).

Target: overhead < 15 % for the step ``rses train`` runs (gradient checkpointing on, its default). The
same step without checkpointing is measured and printed too: there the recompute shares nothing and the
overhead is the bare cost of the maps and losses, ~60 small ops that dominate at this size.
Run: ``pytest benchmarks/test_regionroute_step.py --benchmark-enable -s``.
"""

import statistics
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

PAIRS = 100


@pytest.fixture(scope="module", params=[True, False], ids=["checkpointing", "no-checkpointing"])
def setup(request):
    pipe = tiny_kontext_pipeline(seed=0)
    cfg = TrainConfig(
        style="pixel-art", resolution=128, max_sequence_length=32, gradient_checkpointing=request.param
    )
    cache = encode_samples(pipe, samples_from_split("train", "pixel-art"), 128, 32)
    prepare_transformer(pipe.transformer, cfg)
    batch = cache.batch(torch.arange(2))
    return pipe.transformer, batch, torch.randn_like(batch["target_latents"]), torch.tensor([0.3, 0.7])


@pytest.fixture()
def checkpointing(request) -> bool:
    return request.node.callspec.params["setup"]


def _step(transformer, batch, noise, sig, attn_loss):
    out = training_losses(transformer, batch, noise, sig, attn_loss=attn_loss)
    out["loss"].backward()
    transformer.zero_grad(set_to_none=True)


@pytest.mark.parametrize("attn_loss", [False, True], ids=["lora-only", "lora+attention-losses"])
def test_step(benchmark, setup, attn_loss):
    benchmark(_step, *setup, attn_loss)


def test_overhead_ratio(setup, checkpointing):
    """Median over back-to-back pairs (ABBA order) of the step-time ratio; prints and checks it.

    Pairing cancels the drift of a shared machine's speed, which moves both steps of a pair alike.
    """
    for _ in range(5):
        _step(*setup, False), _step(*setup, True)
    ratios, times = [], {False: [], True: []}
    for i in range(PAIRS):
        for flag in (False, True) if i % 2 == 0 else (True, False):
            start = time.perf_counter()
            _step(*setup, flag)
            times[flag].append(time.perf_counter() - start)
        ratios.append(times[True][-1] / times[False][-1])
    overhead = statistics.median(ratios) - 1.0
    print(
        f"tiny step, {'with' if checkpointing else 'without'} gradient checkpointing: lora-only "
        f"{statistics.median(times[False]) * 1e3:.2f} ms, with attention losses "
        f"{statistics.median(times[True]) * 1e3:.2f} ms (medians), overhead {100 * overhead:.1f}% "
        f"(median of {PAIRS} paired ratios)"
    )
    if checkpointing:  # the trainer's configuration; without it the figure is printed only
        assert overhead < 0.15
