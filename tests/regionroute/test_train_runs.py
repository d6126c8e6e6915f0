"""Whole training runs on the tiny twin: several processes, the experts folder from train to eval, resume."""

import csv
import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from regionroute.train import config_from, samples_from_split, train
from rses.cli import app
from rses.testing.flux import tiny_kontext_pipeline

# The CLI's --smoke settings (64 px, 32 text tokens, the seed-0 tiny pipeline), reproduced in-process.
SMOKE = dict(
    resolution=64, max_sequence_length=32, lr=3e-3, validate_every=0, checkpoint_every=0, device="cpu"
)


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_two_processes_train_like_one_with_the_global_batch(tmp_path):
    """torchrun, 2 CPU processes (gloo), batch 1 x accumulation 2 each, 3 steps: ~35 s on a 2-core machine.

    Expected equal to one process with batch 2: the data order and the noise are functions of the global slot
    (regionroute.data), so both runs see the same samples and noise, and DDP's gradient mean over 2 ranks of
    1-sample means is the 2-sample mean. Only float32 summation order differs (all-reduce vs one mean), so
    the experts agree to ~1e-7 (measured 3e-8 on weights of ~1 after 3 AdamW steps); 1e-5 bounds it.
    """
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    out = tmp_path / "two"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "rses.cli", "train",
           "regionroute", "--style", "pixel-art", "--smoke", "--steps", "3", "--batch-size", "1",
           "--grad-accum", "2", "--device", "cpu", "--lr", "3e-3", "--out", str(out), "--no-progress",
           "--checkpoint-every", "0"]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("expert ") == 1  # only the main process reports
    ranks = [_rows(out / "pixel-art" / f"samples-rank{r}.csv") for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 6  # 3 steps x 2 micro-steps
    for a, b in zip(*ranks, strict=True):
        assert a["samples"] != b["samples"]  # 2 samples of the style, one per rank
        assert a["sigmas"] != b["sigmas"] and a["noise0"] != b["noise0"]
    logged = _rows(out / "pixel-art" / "losses.csv")
    for step, row in enumerate(logged, start=1):
        per_rank = [float(r["loss"]) for rank in ranks for r in rank if int(r["step"]) == step]
        assert float(row["loss"]) == pytest.approx(
            sum(per_rank) / 4, rel=1e-6
        )  # mean over ranks, micro-steps

    one = tmp_path / "one"
    cfg = config_from("pixel-art", steps=3, batch_size=2, grad_accum=2, **SMOKE)
    train(cfg, tiny_kontext_pipeline(seed=0), samples_from_split("train", "pixel-art"), one, progress=False)
    a, b = load_file(out / "pixel-art.safetensors"), load_file(one / "pixel-art.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=0)
    assert max(float(b[k].abs().max()) for k in b if "lora_B" in k) > 1e-3  # it did train


def test_resumed_run_equals_uninterrupted_and_checkpoints_hold_the_expert_only(tmp_path):
    samples = samples_from_split("train", "pixel-art")
    cfg = config_from("pixel-art", steps=4, batch_size=1, grad_accum=2, **SMOKE)
    whole = train(cfg, tiny_kontext_pipeline(seed=0), samples, tmp_path / "whole", progress=False)

    part = tmp_path / "part"
    stop = config_from("pixel-art", steps=2, batch_size=1, grad_accum=2, **SMOKE | dict(checkpoint_every=1))
    stop.checkpoints_total_limit = 1
    train(stop, tiny_kontext_pipeline(seed=0), samples, part, progress=False)
    assert [p.name for p in (part / "pixel-art" / "checkpoints").iterdir()] == ["step-2"]  # limit 1
    ckpt = part / "pixel-art" / "checkpoints" / "step-2"
    lora = load_file(ckpt / "lora.safetensors")
    trainable = sum(v.numel() for v in lora.values())
    assert all("lora_" in k for k in lora) and trainable == 1792  # the tiny twin's rank-4 expert
    size = sum(f.stat().st_size for f in ckpt.iterdir())
    # LoRA (4 B/param) + AdamW's two moments (8 B/param) + a fixed ~35 KB of RNG states, scheduler, pickling.
    # The whole transformer (71,056 parameters) alone would be 284 KB.
    assert size <= 12 * trainable + 40_000, sorted((f.name, f.stat().st_size) for f in ckpt.iterdir())

    resumed = train(cfg, tiny_kontext_pipeline(seed=0), samples, part, resume=True, progress=False)
    assert [r["step"] for r in resumed.history] == [1, 2, 3, 4]
    for got, want in zip(resumed.history, whole.history, strict=True):
        assert got["loss"] == pytest.approx(want["loss"], rel=1e-6)
    seen = [_rows(d / "pixel-art" / "samples-rank0.csv") for d in (part, tmp_path / "whole")]
    assert [(r["samples"], r["sigmas"], r["noise0"]) for r in seen[0]] == [
        (r["samples"], r["sigmas"], r["noise0"]) for r in seen[1]
    ]  # the same data order and noise stream, 4 steps x 2 micro-steps
    assert len(seen[0]) == 8
    a, b = load_file(part / "pixel-art.safetensors"), load_file(tmp_path / "whole" / "pixel-art.safetensors")
    for key in a:  # same ops in the same order: equal up to float32 rounding of restored state
        torch.testing.assert_close(a[key], b[key], atol=1e-6, rtol=0)


def test_documented_train_then_eval_with_two_styles(tmp_path, monkeypatch):
    runner = CliRunner()
    experts = tmp_path / "experts"
    for style in ("pixel-art", "cyberpunk"):
        res = runner.invoke(app, ["train", "regionroute", "--style", style, "--smoke", "--steps", "1",
                                  "--batch-size", "1", "--grad-accum", "1", "--out", str(experts)])  # fmt: skip
        assert res.exit_code == 0, res.output
    index = json.loads((experts / "index.json").read_text())["experts"]
    assert sorted(index) == ["cyberpunk", "pixel-art"]
    entry = index["pixel-art"]
    assert entry["file"] == "pixel-art.safetensors" and entry["rank"] == 4 and len(entry["config_hash"]) == 16
    assert entry["hyperparameters"]["tau"] == pytest.approx(1 / 32) and entry["base_model"].startswith("rses")

    again = ["train", "regionroute", "--style", "pixel-art", "--smoke", "--steps", "2", "--batch-size", "1",
             "--grad-accum", "1", "--out", str(experts)]  # fmt: skip
    res = runner.invoke(app, again)
    assert res.exit_code != 0 and "pass --resume" in str(res.exception)  # one line at the real CLI
    res = runner.invoke(app, [*again, "--resume", "--lr", "1e-3"])
    assert res.exit_code != 0 and "lr: 0.0001 -> 0.001" in str(res.exception)
    res = runner.invoke(app, [*again, "--resume"])
    assert res.exit_code == 0 and "resuming pixel-art from" in res.output and "at step 1 of 2" in res.output

    (tmp_path / "rr.json").write_text(json.dumps({"resolution": 64, "num_inference_steps": 2}))
    monkeypatch.setenv("RSES_REGIONROUTE_WEIGHTS", str(experts))
    res = runner.invoke(app, ["eval", "--method", "regionroute", "--smoke", "--config", str(tmp_path / "rr.json"),
                              "--split", "train", "--limit", "2", "--out", str(tmp_path / "run"), "--no-progress",
                              "--metrics", "mse_bg"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "2 new" in res.output
