"""`rses eval --metric-config FILE` with the shared metric options: a flag the user gave wins, a flag left at
its default does not silently replace the file's value."""

from __future__ import annotations

import json

import pytest
from harness_kit import cli


@pytest.mark.parametrize(
    "flags, boundary",
    [
        ([], 3),  # the file's value stands (the --boundary default 0 replaced it before)
        (["--boundary", "1"], 1),
        (["--boundary", "0"], 0),  # given explicitly, the default value wins over the file too
    ],
)
def test_metric_config_file_values_stand_unless_the_flag_is_given(
    capsys, tmp_path, monkeypatch, flags, boundary
):
    monkeypatch.setenv("RSES_CACHE_DIR", str(tmp_path / "cache"))
    config = tmp_path / "metrics.json"
    config.write_text(json.dumps({"boundary": 3, "batch_size": 5}))
    out = tmp_path / "run"
    code, _, err = cli(
        capsys, "eval", "--method", "identity", "--limit", "1", "--metrics", "psnr_bg", "--device", "cpu",
        "--metric-config", str(config), "--out", str(out), "--no-progress", *flags,
    )  # fmt: skip
    assert code == 0, err
    info = json.loads((out / "run.json").read_text())
    assert info["metric_options"]["boundary"] == boundary
    assert info["metric_config"]["boundary"] == boundary  # what the scorer was built with
    assert info["metric_config"]["batch_size"] == 5
