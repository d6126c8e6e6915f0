"""Scoring throughput of the full metric suite on a GPU, at real model sizes with random weights (no downloads).

Builds open_clip ViT-B-32 and LPIPS-alex (AlexNet trunk) with random weights on the device, wraps them in the
backends the metrics use, and times ``MetricSuite.score_batch`` (all metrics: pixel on the device in float64, LPIPS,
CLIP with the default letterbox crop policy) on synthetic samples (smooth random images, a box mask, a target)
at each ``--sizes`` and ``--dtypes``. Reports samples/s and images/s (images through a backbone: edit, source,
target for LPIPS; crops for CLIP), the mean GPU utilisation while timing (NVML, else ``nvidia-smi`` polling), and
the achieved FLOP/s (counted once with ``torch.utils.flop_counter``) as a fraction of the GPU's dense peak for
the dtype. Writes ``gpu_metrics_throughput.json`` to ``--out``.

    python benchmarks/gpu_metrics_throughput.py --out /tmp/gpu                  # 512 and 1024 px, fp32 + bf16
    python benchmarks/gpu_metrics_throughput.py --out /tmp/x --device cpu --tiny --sizes 48 --samples 4
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rses.metrics import MetricSuite  # noqa: E402
from rses.metrics.backends import LpipsBackend, OpenClipBackend, build_lpips, build_open_clip  # noqa: E402
from rses.metrics.suite import metric_dtype  # noqa: E402

#: Dense tensor-core peaks (TFLOP/s, no sparsity) from NVIDIA's data sheets; fp32 is the TF32 tensor peak when
#: TF32 is allowed, else the CUDA-core fp32 peak. Matched by substring of the device name.
PEAKS_TFLOPS = {
    "H200": {"bf16": 989.0, "fp16": 989.0, "fp32": 67.0, "tf32": 494.0},
    "H100": {"bf16": 989.0, "fp16": 989.0, "fp32": 67.0, "tf32": 494.0},
    "A100": {"bf16": 312.0, "fp16": 312.0, "fp32": 19.5, "tf32": 156.0},
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def backends(device: str, dtype: torch.dtype, tiny: bool):
    if tiny:
        from rses.testing.clip import tiny_clip_backend
        from rses.testing.lpips import tiny_lpips_backend

        return tiny_clip_backend(device=device, dtype=dtype), tiny_lpips_backend(device=device, dtype=dtype)
    torch.manual_seed(0)
    model, preprocess, tokenizer = build_open_clip("ViT-B-32", None, device=device, quick_gelu=True)
    clip = OpenClipBackend(model, preprocess, tokenizer, key="ViT-B-32/random", device=device, dtype=dtype)
    lpips = LpipsBackend(build_lpips("alex", None, device=device), key="lpips-alex/random", dtype=dtype)
    return clip, lpips


def samples(n: int, size: int, seed: int = 0) -> list[dict]:
    """``n`` synthetic samples: smooth random images (upsampled noise), a box object, an edit and a target."""
    rng = np.random.default_rng(seed)

    def smooth() -> np.ndarray:
        low = torch.from_numpy(rng.random((1, 3, size // 16 + 1, size // 16 + 1), dtype=np.float32))
        img = torch.nn.functional.interpolate(low, size=(size, size), mode="bicubic", align_corners=False)
        return (img[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()

    out = []
    for i in range(n):
        src, styled = smooth(), smooth()
        mask = np.zeros((size, size), bool)
        top, left = rng.integers(0, size // 4, 2)
        mask[top : top + size // 2, left : left + size // 3] = True
        edited = np.where(
            mask[..., None], styled, np.clip(src.astype(int) + rng.integers(-3, 4, src.shape), 0, 255)
        )
        out.append(
            {
                "sample_id": f"s{i}",
                "source": src,
                "edited": edited.astype(np.uint8),
                "mask": mask,
                "style": "pixel-art",
                "target": np.where(mask[..., None], styled, src),
            }
        )
    return out


class Utilisation:
    """Mean GPU utilisation (%) between ``start`` and ``stop``: NVML, else ``nvidia-smi`` polled every 50 ms."""

    def __init__(self, device: torch.device):
        self.values: list[float] = []
        self._stop = threading.Event()
        self._read = None
        if device.type != "cuda":
            return
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(device.index or 0)
            self._read = lambda: float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        except Exception:  # no pynvml: the CLI
            if shutil.which("nvidia-smi"):
                query = [
                    "nvidia-smi",
                    "--query-gpu=utilization.gpu",
                    "--format=csv,noheader,nounits",
                    "-i",
                    str(device.index or 0),
                ]
                self._read = lambda: float(
                    subprocess.run(query, capture_output=True, text=True).stdout.split()[0]
                )

    def __enter__(self):
        if self._read:
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                self.values.append(self._read())
            except Exception:
                return
            time.sleep(0.05)

    def __exit__(self, *exc):
        self._stop.set()
        if self._read:
            self._thread.join()

    @property
    def mean(self) -> float | None:
        return float(np.mean(self.values)) if self.values else None


def peak_tflops(device: torch.device, dtype_name: str) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    key = "tf32" if dtype_name == "fp32" and torch.backends.cuda.matmul.allow_tf32 else dtype_name
    return next((peaks[key] for gpu, peaks in PEAKS_TFLOPS.items() if gpu in name), None)


def measure(items: list[dict], clip, lpips, device: str, dtype: torch.dtype, batch: int, iters: int) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    def run() -> float:
        rses = MetricSuite(
            metrics="all",
            device=device,
            dtype=dtype,
            clip_backend=clip,
            lpips_backend=lpips,
            batch_size=batch,
        )  # fresh: no cached sources, every image is computed
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for i in range(0, len(items), batch):
            rses.score_batch(items[i : i + batch])  # returns floats: the read-back ends each batch
        return time.perf_counter() - start

    run()  # warm-up: kernels, text embeddings
    with FlopCounterMode(display=False) as counter:
        run()
    times = []
    with Utilisation(torch.device(device)) as util:
        for _ in range(iters):
            times.append(run())
    seconds = sorted(times)[len(times) // 2]
    n = len(items)
    images = n * (3 + 4)  # LPIPS: edit, source, target; CLIP: rsm, strict, source and edited leakage inputs
    return {
        "seconds": seconds,
        "times_s": times,
        "samples_per_s": n / seconds,
        "images_per_s": images / seconds,
        "gpu_util_pct": util.mean,
        "flops": counter.get_total_flops(),
        "tflops_per_s": counter.get_total_flops() / seconds / 1e12,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="the test kit's tiny models (CPU smoke run)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    ap.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"])
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32, help="samples per score_batch call")
    ap.add_argument("--iters", type=int, default=3)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device)
    result: dict = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "tiny": args.tiny,
        "samples": args.samples,
        "batch": args.batch,
        "runs": [],
    }

    def dump() -> None:
        (out / "gpu_metrics_throughput.json").write_text(json.dumps(result, indent=2))

    for name in args.dtypes:
        dtype = metric_dtype(name)
        clip, lpips = backends(args.device, dtype, args.tiny)
        for size in args.sizes:
            log(f"{name} at {size} px: {args.samples} samples, {args.batch} per call")
            run = {"dtype": name, "size": size}
            try:
                run |= measure(
                    samples(args.samples, size), clip, lpips, args.device, dtype, args.batch, args.iters
                )
                peak = peak_tflops(device, name)
                run["peak_tflops"] = peak
                run["fraction_of_peak"] = run["tflops_per_s"] / peak if peak else None
                if device.type == "cuda":
                    run["peak_mem_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
                log(
                    f"  {run['samples_per_s']:.1f} samples/s, {run['images_per_s']:.1f} images/s, "
                    f"GPU util {run['gpu_util_pct']}, {run['tflops_per_s']:.2f} TFLOP/s "
                    f"({run['fraction_of_peak']} of peak)"
                )
            except Exception as err:  # keep whatever was measured
                run["error"] = f"{type(err).__name__}: {err}"[:500]
                log(f"  FAILED {err}")
            result["runs"].append(run)
            dump()
    log(json.dumps(result))


if __name__ == "__main__":
    main()
