"""Scoring throughput at 512x512 on CPU vs a naive per-sample loop (lpips, open_clip, skimage called directly).

Both sides use REAL model sizes (open_clip ViT-B-32, LPIPS-alex) with random weights, loaded by the suite
through the user path (``clip_weights=`` / ``lpips_weights=`` files). Ratios are measured in one process.
Run: ``pytest benchmarks/test_metrics_speed.py --benchmark-enable -s``.
"""

import copy
import time

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from skimage import data, transform
from skimage.metrics import structural_similarity

from rses.metrics import RSES

SIZE, N_SAMPLES, N_METHODS, ROUNDS = 512, 4, 4, 3
SINGLE = ["lpips_bg", "rsm", "ssim_bg", "mse_bg"]
MULTI = ["lpips_bg", "rsm_gain", "ssim_bg", "mse_bg"]
STYLE_TEXT = "a pixel art style image"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    import open_clip
    import torchvision

    root = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    clip = open_clip.create_model("ViT-B-32", pretrained=None, force_quick_gelu=True)
    save_file(clip.state_dict(), root / "open_clip_model.safetensors")
    alex = {k: v for k, v in torchvision.models.alexnet().state_dict().items() if k.startswith("features.")}
    save_file(alex, root / "alexnet-owt-7be5be79.safetensors")
    suite = RSES(metrics="all", clip_weights=str(root), lpips_weights=str(root))
    naive_lpips = copy.deepcopy(suite.lpips.model)
    naive_lpips.spatial = True
    return suite.clip, suite.lpips, naive_lpips


@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(0)
    out = []
    for i, name in enumerate(["astronaut", "chelsea", "coffee", "rocket"][:N_SAMPLES]):
        src = (transform.resize(getattr(data, name)(), (SIZE, SIZE)) * 255).round().astype(np.uint8)
        mask = np.zeros((SIZE, SIZE), bool)
        mask[100 + 20 * i:380, 120:400 - 10 * i] = True
        edits = []
        for m in range(N_METHODS):
            noise = rng.integers(-8 * m - 4, 8 * m + 5, src.shape)
            edits.append(np.clip(np.where(mask[..., None], 255 - src, src + noise), 0, 255).astype(np.uint8))
        out.append((f"s{i}", src, mask, edits))
    return out


def naive(models, sid, src, edt, mask, gain):
    """What a typical paper eval script does per sample: each library called directly."""
    clip, _, lp = models
    t = [torch.from_numpy(x).permute(2, 0, 1)[None].float() / 127.5 - 1 for x in (src, edt)]
    bg = ~mask
    lpips_bg = float(lp(t[0], t[1])[0, 0][torch.from_numpy(bg)].mean())
    rows, cols = np.where(mask)
    h, w = rows.max() + 1 - rows.min(), cols.max() + 1 - cols.min()
    py, px = round(0.1 * h), round(0.1 * w)
    box = (max(0, rows.min() - py), min(SIZE, rows.max() + 1 + py), max(0, cols.min() - px),
           min(SIZE, cols.max() + 1 + px))

    def rsm(img):
        crop = Image.fromarray(img[box[0]:box[1], box[2]:box[3]])
        e = clip.model.encode_image(clip.preprocess(crop)[None])
        txt = clip.model.encode_text(clip.tokenizer([STYLE_TEXT]))
        return float((1 + torch.nn.functional.cosine_similarity(e, txt)) / 2)

    out = {"lpips_bg": lpips_bg}
    if gain:
        out["rsm_gain"] = rsm(edt) - rsm(src)
    else:
        out["rsm"] = rsm(edt)
    ssim = structural_similarity(src / 255, edt / 255, channel_axis=-1, data_range=1, full=True)[1]
    out["ssim_bg"] = float(ssim[bg].mean())
    out["mse_bg"] = float(((edt / 255 - src / 255) ** 2)[bg].mean())
    return out


def best_of(fn):
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def compare(benchmark, models, samples, metrics, methods):
    clip, lp, _ = models
    gain = "rsm_gain" in metrics

    def run_naive():
        with torch.no_grad():
            return [naive(models, sid, src, edits[m], mask, gain) for sid, src, mask, edits in samples
                    for m in range(methods)]

    def run_ours():
        suite = RSES(metrics=metrics, clip_backend=clip, lpips_backend=lp)  # fresh: empty source cache
        return [suite.score(sid, src, edits[m], mask, "pixel-art") for sid, src, mask, edits in samples
                for m in range(methods)]

    t_naive, ref = best_of(run_naive)
    t_ours, got = best_of(run_ours)
    for r, g in zip(ref, got, strict=True):
        assert g == pytest.approx(r, abs=1e-5)
    n = len(samples) * methods
    ratio = t_naive / t_ours
    benchmark.extra_info.update(naive_ms_per_sample=1000 * t_naive / n, ours_ms_per_sample=1000 * t_ours / n,
                                ratio=ratio)
    print(f"\n{methods} method(s): naive {1000 * t_naive / n:.1f} ms/sample, ours {1000 * t_ours / n:.1f} "
          f"ms/sample, ratio {ratio:.2f}x")
    benchmark.pedantic(run_ours, rounds=1, iterations=1)
    return ratio


def test_single_method_throughput(benchmark, models, samples):
    assert compare(benchmark, models, samples, SINGLE, 1) >= 2.5


def test_four_method_comparison_from_source_caching(benchmark, models, samples):
    assert compare(benchmark, models, samples, MULTI, N_METHODS) >= 1.8
