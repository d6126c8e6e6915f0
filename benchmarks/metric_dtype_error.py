"""Error of ``--metric-dtype bf16 / fp16`` against fp32 on the built-in ``test`` split (docs/metrics.md).

Edits come from two reference editors (``global-style``: the whole image restyled; ``paste-style``: the styled
object pasted in), so LPIPS sees both large and small background changes. LPIPS runs with the REAL AlexNet
trunk (``--lpips-weights``, e.g. /work/shared/weights/alexnet-owt-7be5be79.safetensors); CLIP, whose real
weights are not at hand here, with a random-weight real-size ViT-B-32 (its errors only show the arithmetic's
sensitivity, not a real model's). Prints, per metric and dtype, the largest and the mean per-sample absolute
error and the error of the split mean.

    python benchmarks/metric_dtype_error.py --lpips-weights /work/shared/weights/alexnet-owt-7be5be79.safetensors
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rses.data.manifest import load_split  # noqa: E402
from rses.editing import EditRequest, get_editor  # noqa: E402
from rses.metrics import MetricSuite  # noqa: E402
from rses.metrics.backends import OpenClipBackend, build_open_clip, load_lpips  # noqa: E402
from rses.metrics.suite import metric_dtype  # noqa: E402

METRICS = ["lpips_bg", "lpips_in", "rsm", "rsm_gain", "style_leakage", "rses"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lpips-weights", required=True)
    ap.add_argument("--dtypes", nargs="+", default=["bf16", "fp16"])
    ap.add_argument("--no-clip", action="store_true", help="LPIPS only")
    args = ap.parse_args()
    split = load_split("test")
    items = []
    for method in ("global-style", "paste-style"):
        editor = get_editor(method)
        for s in split.samples:
            source, mask = s.load_source(), s.load_mask()
            request = EditRequest(s.id, source, mask, s.prompt, s.style, s.object_name, seed=0)
            items.append(
                {
                    "sample_id": f"{method}/{s.id}",
                    "source": source,
                    "edited": editor.edit([request])[0],
                    "mask": mask,
                    "style": s.style,
                    "target": s.load_target(),
                }
            )
    metrics = [m for m in METRICS if not (args.no_clip and m in ("rsm", "rsm_gain", "style_leakage", "rses"))]
    scores = {}
    for name in ["fp32", *args.dtypes]:
        dtype = metric_dtype(name)
        clip = None
        if not args.no_clip:
            torch.manual_seed(0)
            model, pre, tok = build_open_clip("ViT-B-32", None, quick_gelu=True)
            clip = OpenClipBackend(model, pre, tok, key=f"random-vit-b-32/{name}", dtype=dtype)
        lpips = load_lpips("alex", args.lpips_weights, dtype=dtype)
        rses = MetricSuite(metrics=metrics, dtype=dtype, clip_backend=clip, lpips_backend=lpips)
        scores[name] = {m: np.array([row[m] for row in rses.score_batch(items)]) for m in metrics}
        print(f"scored {len(items)} edits in {name}", flush=True)
    print(
        f"\n{len(items)} edits (global-style and paste-style on the built-in test split), error against fp32:\n"
    )
    print("| metric | dtype | max abs error | mean abs error | error of the mean | fp32 mean |")
    print("|---|---|---|---|---|---|")
    for m in metrics:
        ref = scores["fp32"][m]
        for name in args.dtypes:
            err = np.abs(scores[name][m] - ref)
            print(
                f"| {m} | {name} | {err.max():.2e} | {err.mean():.2e} | "
                f"{abs(scores[name][m].mean() - ref.mean()):.2e} | {ref.mean():.4f} |"
            )


if __name__ == "__main__":
    main()
