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
    code, out = run([dirs / "src/coffee.png", dirs / "edit/coffee.png", dirs / "mask/coffee.png",
                     "--style", "pixel-art"], capsys)
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
    code, out = run([dirs / "src", dirs / "edit", dirs / "mask", "--style", "pixel-art", "--metrics", "all",
                     "--smoke", "--out", tmp_path / "s.csv"], capsys)
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
    code, out = run([dirs / "src", dirs / "edit", dirs / "mask", "--style", "x", "--metrics", "lpips"], capsys)
    assert code == 1 and "--lpips-weights" in out
