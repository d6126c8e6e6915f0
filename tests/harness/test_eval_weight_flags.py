"""`rses eval` passes weight flags through to the metric backends and the editor before any work."""

import pytest

from rses.cli import main


def run(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main(list(args))
    return info.value.code, capsys.readouterr().err


def test_clip_weights_flag_reaches_the_preflight(capsys, tmp_path):
    code, err = run(
        capsys,
        "eval",
        "--method",
        "identity",
        "--metrics",
        "clip",
        "--out",
        str(tmp_path / "r"),
        "--clip-weights",
        str(tmp_path / "no-clip.safetensors"),
        "--device",
        "cpu",
    )
    assert code == 1
    assert "not found" in err and "no-clip.safetensors" in err
    assert not (tmp_path / "r").exists()


def test_editor_weights_flag_reaches_the_editor(capsys, tmp_path):
    code, err = run(
        capsys,
        "eval",
        "--method",
        "kontext",
        "--metrics",
        "pixel",
        "--out",
        str(tmp_path / "r"),
        "--weights",
        str(tmp_path / "no-kontext"),
        "--device",
        "cpu",
    )
    assert code == 1
    assert "no-kontext" in err and "--weights" in err


def test_weights_flag_on_an_editor_without_weights_is_a_usage_error(capsys, tmp_path):
    code, err = run(
        capsys,
        "eval",
        "--method",
        "identity",
        "--metrics",
        "pixel",
        "--out",
        str(tmp_path / "r"),
        "--weights",
        "org/model",
        "--device",
        "cpu",
    )
    assert code == 2
    assert "no config" in err or "no config field" in err


def test_smoke_runs_say_their_numbers_are_not_meaningful(capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(
            [
                "eval",
                "--method",
                "identity",
                "--metrics",
                "pixel",
                "--smoke",
                "--limit",
                "1",
                "--device",
                "cpu",
                "--out",
                str(tmp_path / "r"),
                "--no-progress",
            ]
        )
    assert info.value.code == 0
    assert "these numbers are not meaningful" in " ".join(capsys.readouterr().out.split())
