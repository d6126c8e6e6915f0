"""`rses eval` under torchrun: two real processes split the samples and rank 0 merges them."""

import os
import socket
import subprocess
import sys

import pandas as pd

from rses.runner import RunConfig, run_eval

ARGS = ["--method", "paste-style", "--split", "test", "--limit", "6", "--metrics", "pixel", "--device", "cpu"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_torchrun_ranks_equal_one_process(tmp_path):
    env = os.environ | {"RSES_CACHE_DIR": str(tmp_path / "cache")}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        "-m",
        "rses.cli",
        "eval",
        *ARGS,
        "--out",
        str(tmp_path / "ranks"),
        "--no-progress",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "ranks").glob("journal*.jsonl")) == [
        "journal.s0of1.r0of2.jsonl",
        "journal.s0of1.r1of2.jsonl",
    ]
    ranks = pd.read_parquet(tmp_path / "ranks" / "samples.parquet").set_index("sample_id").sort_index()

    single = run_eval(
        RunConfig(method="paste-style", split="test", limit=6, metrics="pixel", out=tmp_path / "single"),
        progress=False,
    )
    alone = pd.read_parquet(single.run_dir / "samples.parquet").set_index("sample_id").sort_index()
    assert list(ranks.index) == list(alone.index) and ranks.index.is_unique
    metrics = ["mse_bg", "psnr_bg", "ssim_bg", "pixel_consistency", "ref_gain", "rses_ref"]
    pd.testing.assert_frame_equal(ranks[metrics], alone[metrics])
