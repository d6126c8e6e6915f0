"""`--allow-pickle` exists on every command that loads weights, and on `rses eval` it reaches the editor."""

from __future__ import annotations

import os

import pytest
import torch
from harness_kit import cli, make_split

COMMANDS_THAT_LOAD_WEIGHTS = [["eval"], ["score"], ["train", "regionroute"], ["data", "pseudo-gt"]]


@pytest.mark.parametrize("command", COMMANDS_THAT_LOAD_WEIGHTS, ids=" ".join)
def test_every_command_that_loads_weights_takes_allow_pickle(capsys, command, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = cli(capsys, *command, "--help")
    assert code == 0 and "--allow-pickle" in out


def test_eval_allow_pickle_reaches_the_editors_weights_and_is_scoped(tmp_path, capsys, monkeypatch):
    split = make_split(tmp_path / "split", ["a"])
    weights = tmp_path / "model"  # a pickle without a pickle suffix
    torch.save({"w": torch.zeros(1)}, weights)
    monkeypatch.setenv("RSES_FAKE_WEIGHTS", str(weights))
    monkeypatch.delenv("RSES_ALLOW_PICKLE", raising=False)
    args = ["eval", "--method", "fake-weights", "--split", str(split), "--metrics", "mse_bg", "--no-progress"]
    code, _, err = cli(capsys, *args, "--out", str(tmp_path / "refused"))
    assert code == 1 and "Refusing to load pickle checkpoint" in err and str(weights) in " ".join(err.split())
    code, _, err = cli(capsys, *args, "--out", str(tmp_path / "allowed"), "--allow-pickle")
    # the weights are accepted; this fake editor then fails its one sample (it must not be reached otherwise)
    assert code == 1 and "1 sample(s) failed" in " ".join(err.split()), err
    assert "RSES_ALLOW_PICKLE" not in os.environ  # the opt-in ends with the command
