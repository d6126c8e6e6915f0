"""CPU threads chosen per workload (``rses.threads``): one for weight-free work, the default for models."""

from __future__ import annotations

import json

import pytest
import torch
from harness_kit import cli

from rses.editing import EDITORS, Editor
from rses.errors import UsageError
from rses.runner import RunConfig, run_eval
from rses.threads import LIGHT_THREADS, apply_threads, choose_threads, default_threads


class ThreadSpyEditor(Editor):
    """Returns the source unchanged and records the intra-op thread count it ran under."""

    name = "fake-thread-spy"
    seen: list[int] = []

    def edit(self, requests):
        ThreadSpyEditor.seen.append(torch.get_num_threads())
        return [r.image for r in requests]


if ThreadSpyEditor.name not in EDITORS:
    EDITORS.register(ThreadSpyEditor.name, ThreadSpyEditor)


@pytest.fixture(autouse=True)
def _restore_threads():
    before = torch.get_num_threads()
    ThreadSpyEditor.seen.clear()
    yield
    apply_threads(before)


def _run(split, out, metrics, **kw) -> dict:
    run_eval(
        RunConfig(method="fake-thread-spy", split=str(split), out=out, metrics=metrics, **kw), progress=False
    )
    return json.loads((out / "run.json").read_text())


def test_weight_free_work_runs_on_one_thread_and_records_it(split12, tmp_path):
    torch.set_num_threads(2)
    info = _run(split12, tmp_path / "run", ["mse_bg", "ssim_bg"])
    assert info["threads"] == LIGHT_THREADS == 1
    assert set(ThreadSpyEditor.seen) == {1}


def test_threads_flag_overrides_the_workload_choice(split12, tmp_path):
    info = _run(split12, tmp_path / "run", ["mse_bg"], threads=2)
    assert info["threads"] == 2
    assert set(ThreadSpyEditor.seen) == {2}


def test_a_learned_metric_gets_the_process_default_back_after_a_light_run(split12, tmp_path):
    default = default_threads()
    _run(split12, tmp_path / "light", ["mse_bg"])
    assert torch.get_num_threads() == 1
    info = _run(split12, tmp_path / "learned", ["lpips_bg"], smoke=True)
    assert info["threads"] == default
    assert ThreadSpyEditor.seen[-1] == default


def test_choose_threads_rules():
    assert choose_threads(None, learned=False) == 1
    assert choose_threads(None, learned=True) == default_threads()
    assert choose_threads(4, learned=False) == 4
    with pytest.raises(UsageError, match="--threads must be >= 1, got 0"):
        choose_threads(0, learned=True)


def test_cli_refuses_zero_threads_before_any_work(split12, tmp_path, capsys):
    code, _, err = cli(
        capsys, "eval", "--method", "identity", "--split", str(split12), "--metrics", "pixel",
        "--out", str(tmp_path / "run"), "--threads", "0", "--no-progress",
    )  # fmt: skip
    assert code == 2 and "--threads must be >= 1, got 0" in err
    assert not (tmp_path / "run" / "samples.parquet").exists()
