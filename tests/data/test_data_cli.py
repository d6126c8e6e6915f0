"""`rses data build` registers a split that `load_split("coco/test")` finds; `rses data ls` lists it."""

import pytest
from test_builders import _fake_coco  # noqa: E402  (tests/data is on sys.path under pytest's rootdir import)

from rses.cli import main
from rses.data.manifest import load_split


def test_build_registers_and_ls_lists(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RSES_SPLITS_DIR", str(tmp_path / "splits"))
    root = _fake_coco(tmp_path / "coco")
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "build", "coco", "--root", str(root), "--limit", "3", "--seed", "1"])
    assert exit_info.value.code == 0
    split = load_split("coco/test")
    assert split.name == "coco/test" and len(split) == 3
    assert split.root == (tmp_path / "splits" / "coco").resolve()
    with pytest.raises(SystemExit):
        main(["data", "ls"])
    out = capsys.readouterr().out
    assert "coco/test" in out and "test" in out


def test_build_with_missing_root_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "build", "voc", "--root", str(tmp_path), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "VOC image set not found" in capsys.readouterr().err
