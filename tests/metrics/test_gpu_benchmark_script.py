"""benchmarks/gpu_metrics_throughput.py runs end to end (tiny models, CPU) and writes what it promises."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_metrics_benchmark_runs_on_cpu_at_tiny_size(tmp_path):
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "gpu_metrics_throughput.py"),
        "--out",
        str(tmp_path),
        "--device",
        "cpu",
        "--tiny",
        "--sizes",
        "48",
        "--dtypes",
        "fp32",
        "bf16",
        "--samples",
        "3",
        "--batch",
        "2",
        "--iters",
        "1",
    ]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300)
    result = json.loads((tmp_path / "gpu_metrics_throughput.json").read_text())
    assert result["device"] == "cpu" and [(r["dtype"], r["size"]) for r in result["runs"]] == [
        ("fp32", 48),
        ("bf16", 48),
    ]
    for run in result["runs"]:
        assert "error" not in run, run
        assert run["samples_per_s"] > 0 and run["images_per_s"] == pytest.approx(7 * run["samples_per_s"])
        assert run["flops"] > 0 and run["gpu_util_pct"] is None and run["fraction_of_peak"] is None  # no GPU
