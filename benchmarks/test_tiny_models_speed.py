"""The test kit's tiny models: each builds in under 2 s on CPU and a 64x64 inference runs in under 1 s.

Run: ``pytest benchmarks/test_tiny_models_speed.py --benchmark-enable -s``.
"""

import time

import numpy as np
import pytest
import torch
from PIL import Image

from rses import testing

IMAGE = Image.fromarray(np.full((64, 64, 3), 128, np.uint8))
PIPELINE_RUNS = {
    "tiny_kontext_pipeline": lambda p: p(
        image=IMAGE,
        prompt="make the cat in pixel-art style",
        height=64,
        width=64,
        max_area=64 * 64,
        _auto_resize=False,
        num_inference_steps=4,
        output_type="np",
    ),
    "tiny_instruct_pix2pix_pipeline": lambda p: p(
        image=IMAGE, prompt="make the cat in pixel-art style", num_inference_steps=4, output_type="np"
    ),
    "tiny_inpaint_pipeline": lambda p: p(
        image=IMAGE,
        mask_image=IMAGE,
        prompt="a cat in pixel-art style",
        height=64,
        width=64,
        num_inference_steps=4,
        output_type="np",
    ),
    "tiny_open_clip": lambda m: m.model.encode_image(torch.rand(1, 3, 32, 32)),
    "tiny_lpips": lambda m: m(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)),
}


def best_of(fn, rounds=3):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


@pytest.mark.parametrize("builder", sorted(PIPELINE_RUNS))
def test_tiny_model_builds_under_2_s_and_runs_under_1_s(benchmark, builder):
    build_s, model = best_of(lambda: getattr(testing, builder)(seed=0))
    with torch.no_grad():
        run_s, _ = best_of(lambda: PIPELINE_RUNS[builder](model))
    benchmark.extra_info.update(build_s=build_s, run_s=run_s)
    benchmark.pedantic(PIPELINE_RUNS[builder], args=(model,), rounds=1, iterations=1)
    print(f"\n{builder}: build {build_s * 1e3:.0f} ms, 64x64 run {run_s * 1e3:.0f} ms")
    assert build_s < 2.0 and run_s < 1.0
