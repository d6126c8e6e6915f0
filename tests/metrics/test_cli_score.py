import json

import numpy as np
import pandas as pd
import pytest
from metrics_kit import box_mask, paste, photo, posterize

from rses.cli import main
from rses.io import save_image, save_mask


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    from rses.cli.app import console, err_console

    for c in (console, err_console):
        monkeypatch.setattr(c, "_width", 300)


@pytest.fixture
def dirs(tmp_path):
    for sub in ("src", "edit", "mask", "tgt"):
        (tmp_path / sub).mkdir()
    for name in ("astronaut", "coffee"):
        src, mask = photo(name), box_mask()
        save_image(tmp_path / "src" / f"{name}.png", src)
        save_image(tmp_path / "edit" / f"{name}.png", paste(src, posterize(src), mask))
        save_image(tmp_path / "tgt" / f"{name}.png", paste(src, posterize(src), mask))
        save_mask(tmp_path / "mask" / f"{name}.png", mask)
    return tmp_path


def run(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["score", *map(str, args)])
    out = capsys.readouterr()
    return exit_info.value.code, out.out + out.err


def test_score_one_triple_pixel_metrics_need_no_weights(dirs, capsys):
    code, out = run(
        [dirs / "src/coffee.png", dirs / "edit/coffee.png", dirs / "mask/coffee.png", "--style", "pixel-art"],
        capsys,
    )
    assert code == 0
    assert "pixel_consistency" in out and "1.0000" in out


def test_score_directories_with_target_writes_csv_and_json(dirs, capsys, tmp_path):
    args = [dirs / "src", dirs / "edit", dirs / "mask", "--style", "pixel-art", "--target", dirs / "tgt"]
    code, out = run([*args, "--out", tmp_path / "s.csv"], capsys)
    assert code == 0 and "mean" in out
    frame = pd.read_csv(tmp_path / "s.csv")
    assert list(frame["sample_id"]) == ["astronaut", "coffee"]
    assert np.allclose(frame["rses_ref"], 1.0)
    code, _ = run([*args, "--metrics", "mse_bg,rses_ref", "--out", tmp_path / "s.json"], capsys)
    payload = json.loads((tmp_path / "s.json").read_text())
    assert payload["smoke"] is False and payload["summary"]["rses_ref"] == 1.0


def test_smoke_mode_says_numbers_are_not_meaningful_everywhere(dirs, capsys, tmp_path):
    code, out = run(
        [
            dirs / "src",
            dirs / "edit",
            dirs / "mask",
            "--style",
            "pixel-art",
            "--metrics",
            "all",
            "--smoke",
            "--out",
            tmp_path / "s.csv",
        ],
        capsys,
    )
    assert code == 0
    assert out.count("NOT meaningful") >= 3
    assert pd.read_csv(tmp_path / "s.csv")["note"].str.contains("NOT meaningful").all()


def test_usage_errors(dirs, capsys):
    code, out = run([dirs / "src", dirs / "edit", dirs / "mask", "--style", "x", "--metrics", "lpip"], capsys)
    assert code == 2 and "Did you mean lpips" in out
    (dirs / "mask" / "coffee.png").unlink()
    code, out = run([dirs / "src", dirs / "edit", dirs / "mask", "--style", "x"], capsys)
    assert code == 2 and "no counterpart" in out and "coffee" in out


def test_learned_metrics_without_weights_fail_with_clear_message(dirs, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    code, out = run(
        [dirs / "src", dirs / "edit", dirs / "mask", "--style", "x", "--metrics", "lpips"], capsys
    )
    assert code == 1 and "--lpips-weights" in out


def test_crop_policy_and_metric_dtype_options_reach_the_scores_and_the_json(dirs, capsys, tmp_path):
    args = [
        dirs / "src",
        dirs / "edit",
        dirs / "mask",
        "--style",
        "pixel-art",
        "--metrics",
        "rsm,lpips_bg",
        "--smoke",
    ]
    runs = {}
    for policy in ("letterbox", "center-crop"):
        code, _ = run(
            [*args, "--crop-policy", policy, "--metric-dtype", "bf16", "--out", tmp_path / f"{policy}.json"],
            capsys,
        )
        runs[policy] = json.loads((tmp_path / f"{policy}.json").read_text())
        assert code == 0 and runs[policy]["config"]["crop_policy"] == policy
        assert runs[policy]["config"]["dtype"] == "bfloat16"
    code, out = run([*args, "--crop-policy", "squash"], capsys)
    assert code == 2 and "letterbox, tile, center-crop" in out
    code, out = run([*args, "--metric-dtype", "fp64"], capsys)
    assert code == 2 and "fp32, bf16, fp16" in out


def _eval(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "eval",
                "--method",
                "identity",
                "--split",
                "test",
                "--limit",
                "2",
                "--smoke",
                "--no-progress",
                *args,
            ]
        )
    out = capsys.readouterr()
    return exit_info.value.code, out.out + out.err


def test_eval_records_crop_policy_and_dtype_and_resume_refuses_others(capsys, tmp_path):
    out_dir = tmp_path / "run"
    code, out = _eval(capsys, "--metrics", "rsm_gain", "--out", str(out_dir), "--crop-policy", "tile")
    assert code == 0, out
    recorded = json.loads((out_dir / "run.json").read_text())
    assert (recorded["metric_crop_policy"], recorded["metric_dtype"]) == ("tile", "fp32")
    assert recorded["metric_config"]["crop_policy"] == "tile"
    for flag, value, key in (
        ("--crop-policy", "letterbox", "metric_crop_policy"),
        ("--metric-dtype", "bf16", "metric_dtype"),
    ):
        extra = () if flag == "--crop-policy" else ("--crop-policy", "tile")
        code, out = _eval(capsys, "--metrics", "rsm_gain", "--out", str(out_dir), flag, value, *extra)
        assert code == 1 and f"its {key} is" in out and value in out, out
    code, out = _eval(capsys, "--metrics", "rsm_gain", "--out", str(out_dir), "--crop-policy", "tile")
    assert code == 0 and "resumed" in out
    pixel_dir = tmp_path / "pixel"  # a pixel-only run depends on neither: none recorded, any value resumes
    assert _eval(capsys, "--metrics", "pixel", "--out", str(pixel_dir))[0] == 0
    assert json.loads((pixel_dir / "run.json").read_text())["metric_crop_policy"] is None
    assert _eval(capsys, "--metrics", "pixel", "--out", str(pixel_dir), "--crop-policy", "tile")[0] == 0
