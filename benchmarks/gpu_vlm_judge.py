"""The VLM judge at the real Qwen2.5-VL-7B size with random weights: peak GPU memory and questions per second.

Builds ``Qwen2_5_VLForConditionalGeneration`` from Qwen2.5-VL-7B-Instruct's architecture (28 text layers of
width 3584, 32-block vision tower of width 1280) in bf16 directly on the device (random init there), wraps it in
:class:`rses.metrics.vlm.VlmJudge` with the test kit's tokenizer (same special tokens; the answers mean nothing)
and a processor at the judge's pixel budget, and times the four questions of 512x512 edits (object crop +
greyed background, as :func:`rses.metrics.vlm.region_views` makes them) at several batch sizes. Writes
``gpu_vlm_judge.json`` to ``--out``.

    python benchmarks/gpu_vlm_judge.py --out /tmp/gpu                     # real size, CUDA
    python benchmarks/gpu_vlm_judge.py --out /tmp/x --device cpu --tiny   # the tiny twin, to check the script
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rses.metrics.vlm import MAX_PIXELS, MIN_PIXELS, VlmJudge, region_views  # noqa: E402
from rses.testing.qwen_vl import tiny_qwen_vl_components  # noqa: E402

#: Qwen2.5-VL-7B-Instruct's config.json (architecture only).
REAL_TEXT = dict(
    vocab_size=152064,
    hidden_size=3584,
    intermediate_size=18944,
    num_hidden_layers=28,
    num_attention_heads=28,
    num_key_value_heads=4,
    max_position_embeddings=128000,
    rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]},
)
REAL_VISION = dict(
    depth=32,
    hidden_size=1280,
    intermediate_size=3420,
    num_heads=16,
    out_hidden_size=3584,
    patch_size=14,
    spatial_merge_size=2,
    temporal_patch_size=2,
    window_size=112,
    fullatt_block_indexes=[7, 15, 23, 31],
)


def build(device: str, tiny: bool):
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2VLImageProcessor

    model, processor = tiny_qwen_vl_components(seed=0)
    if tiny:
        return model.to(device), processor
    processor.image_processor = Qwen2VLImageProcessor(
        size={"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS},
        patch_size=14,
        merge_size=2,
        temporal_patch_size=2,
    )
    tiny_cfg = model.config
    config = Qwen2_5_VLConfig(
        text_config=REAL_TEXT,
        vision_config=REAL_VISION,
        image_token_id=tiny_cfg.image_token_id,
        video_token_id=tiny_cfg.video_token_id,
        vision_start_token_id=tiny_cfg.vision_start_token_id,
        vision_end_token_id=tiny_cfg.vision_end_token_id,
    )
    torch.set_default_dtype(
        torch.bfloat16
    )  # built in bf16 on the device: weights initialised there (seconds)
    try:
        torch.manual_seed(0)
        with torch.device(device):
            model = Qwen2_5_VLForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(torch.float32)
    return model.eval().requires_grad_(False), processor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--edits", type=int, default=16, help="edits per batch size (4 questions each)")
    parser.add_argument("--batch-sizes", default="1,4,8,16")
    args = parser.parse_args()
    model, processor = build(args.device, args.tiny)
    rng = np.random.default_rng(0)
    mask = torch.zeros(512, 512, dtype=torch.bool)
    mask[128:384, 160:352] = True
    views, questions = [], []
    for _ in range(args.edits):
        v = region_views(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8), mask)
        for view in ("object", "object", "background", "background"):
            views.append(v[view])
            questions.append(f"Is the {view} in this image drawn in pixel art style? Answer Yes or No.")
    results = {
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device,
        "tiny": args.tiny,
        "parameters": sum(p.numel() for p in model.parameters()),
        "runs": [],
    }
    for batch in [int(b) for b in args.batch_sizes.split(",")]:
        judge = VlmJudge(model, processor, identity="bench", cache=None, batch_size=batch)
        judge.p_yes(views[:batch], questions[:batch])  # warm-up
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        probs = judge.p_yes(views, questions)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        run = {
            "batch_size": batch,
            "questions": len(views),
            "seconds": seconds,
            "questions_per_s": len(views) / seconds,
            "edits_per_s": args.edits / seconds,
            "p_yes_range": [min(probs), max(probs)],
        }
        if args.device.startswith("cuda"):
            run["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
        results["runs"].append(run)
        print(json.dumps(run), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_vlm_judge.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
