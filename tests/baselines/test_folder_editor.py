"""`--method folder --edits DIR`: edits made elsewhere, matched by sample id, checked before any work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from baselines.folder import FolderEditor, folder_digest
from rses.data.manifest import STYLES, sample_record, write_manifest
from rses.errors import RsesError, UsageError
from rses.io import load_image, save_image, save_mask
from rses.runner import RunConfig, run_eval, safe_name

IDS = ["a", "b", "sub/c"]  # an id with a slash lives in a sub-folder


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RSES_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def split(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    records = []
    for i, sample_id in enumerate(IDS):
        image = rng.integers(0, 200, size=(24, 32, 3), dtype=np.uint8)
        mask = np.zeros((24, 32), bool)
        mask[4:12, 6:20] = True
        files = {"source": tmp_path / "split" / f"src{i}.png", "mask": tmp_path / "split" / f"mask{i}.png"}
        save_image(files["source"], image)
        save_mask(files["mask"], mask)
        records.append(
            sample_record(tmp_path / "split", sample_id, object_name="box", style=STYLES[i], **files)
        )
    return write_manifest(tmp_path / "split" / "split.jsonl", records)


def sources(split: Path) -> dict[str, np.ndarray]:
    return {sid: load_image(split.parent / f"src{i}.png") for i, sid in enumerate(IDS)}


def edits_folder(root: Path, split: Path, brighten: int = 10) -> Path:
    for sid, image in sources(split).items():
        save_image(root / f"{sid}.png", np.clip(image.astype(int) + brighten, 0, 255).astype(np.uint8))
    return root


def run(split: Path, out: Path, edits: Path, **config) -> tuple:
    cfg = RunConfig(
        method="folder",
        split=str(split),
        out=out,
        metrics="mse_bg,psnr_bg",
        editor_config={"edits": str(edits), **config},
    )
    return run_eval(cfg, progress=False)


def test_scores_the_folder_and_records_its_digest(split, tmp_path):
    edits = edits_folder(tmp_path / "edits", split)
    result = run(split, tmp_path / "run", edits)
    assert (result.n_ok, result.n_failed) == (3, 0)
    table = pd.read_parquet(tmp_path / "run" / "samples.parquet").set_index("sample_id")
    mask = np.zeros((24, 32), bool)
    mask[4:12, 6:20] = True
    for sid, image in sources(split).items():
        edited = np.clip(image.astype(int) + 10, 0, 255) / 255.0
        expected = ((edited - image / 255.0) ** 2)[~mask].mean()  # by hand: [0, 1] pixels, background only
        assert table.loc[sid, "mse_bg"] == pytest.approx(expected, rel=1e-6)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["method"] == "folder" and info["editor_config"]["digest"] == folder_digest(edits)


def test_a_changed_folder_cannot_be_resumed_into(split, tmp_path):
    edits = edits_folder(tmp_path / "edits", split)
    run(split, tmp_path / "run", edits)
    assert run(split, tmp_path / "run", edits).n_new == 0  # unchanged: resumes, nothing to do
    edits_folder(edits, split, brighten=20)
    with pytest.raises(RsesError, match=r"holds a different run: its editor_config_hash"):
        run(split, tmp_path / "run", edits)
    moved = tmp_path / "moved"
    shutil.copytree(edits, moved)
    assert (
        FolderEditor(FolderEditor.Config(edits=str(moved))).config_hash()
        == FolderEditor(FolderEditor.Config(edits=str(edits))).config_hash()
    )  # the key is the content, not the path


def test_every_problem_is_named_before_any_work(split, tmp_path):
    edits = edits_folder(tmp_path / "edits", split)
    (edits / "a.png").unlink()  # missing
    save_image(edits / "zzz.png", np.zeros((24, 32, 3), np.uint8))  # extra
    (edits / "notes.txt").write_text("x")  # extra, not an image
    save_image(edits / "b.jpg", np.zeros((24, 32, 3), np.uint8))  # duplicate of b.png
    save_image(edits / "sub" / "c.png", np.zeros((20, 32, 3), np.uint8))  # mis-sized
    with pytest.raises(UsageError) as err:
        run(split, tmp_path / "run", edits)
    message = str(err.value)
    assert "\n" not in message
    for part in (
        "1 sample(s) have no file (a)",
        "2 file(s) match no sample id of the split (notes.txt, zzz.png)",
        "1 sample(s) have several files (b.jpg + b.png)",
        "1 file(s) do not have the source's size (sub/c.png is 32x20, the source 32x24)",
    ):
        assert part in message
    assert not (tmp_path / "run").exists()


def test_resize_accepts_the_same_aspect_ratio_only(split, tmp_path):
    edits = tmp_path / "edits"
    for sid, image in sources(split).items():
        save_image(edits / f"{sid}.png", np.repeat(np.repeat(image, 2, axis=0), 2, axis=1))  # 2x: 64x48
    result = run(split, tmp_path / "run", edits, resize=True)
    assert result.n_ok == 3
    table = pd.read_parquet(tmp_path / "run" / "samples.parquet")
    assert set(table["edit_height"]) == {48} and set(table["source_height"]) == {24}
    save_image(edits / "a.png", np.zeros((48, 48, 3), np.uint8))
    with pytest.raises(UsageError, match=r"do not have the source's aspect ratio \(a.png is 48x48"):
        run(split, tmp_path / "run2", edits, resize=True)


def test_a_run_directory_edits_folder_scores_the_same(split, tmp_path):
    edits = edits_folder(tmp_path / "edits", split)
    run(split, tmp_path / "run", edits)
    assert sorted(p.stem for p in (tmp_path / "run" / "edits").iterdir()) == sorted(safe_name(i) for i in IDS)
    run(split, tmp_path / "again", tmp_path / "run" / "edits")
    first, again = (pd.read_parquet(tmp_path / d / "samples.parquet") for d in ("run", "again"))
    assert first["mse_bg"].tolist() == again["mse_bg"].tolist()


def test_cli_errors_are_one_line(split, tmp_path, capsys):
    from rses.cli import main

    for args, expected in ((["--edits", str(tmp_path / "nope")], "no such folder"), ([], "needs the folder")):
        with pytest.raises(SystemExit) as exit_info:
            main(["eval", "--method", "folder", "--split", str(split), "--metrics", "pixel", *args])
        err = capsys.readouterr().err
        assert exit_info.value.code != 0 and expected in err and "Traceback" not in err


def test_a_phone_edit_with_exif_orientation_is_sized_as_displayed(split, tmp_path):
    """An edit saved with its pixels stored rotated and EXIF orientation 6 (as phones and some APIs write
    them) is the source's size once displayed, which is how rses reads it: accepted and scored as exact."""
    from PIL import Image

    edits = tmp_path / "edits"
    for sid, image in sources(split).items():
        path = edits / f"{sid}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        exif = Image.Exif()
        exif[0x0112] = 6  # displayed = stored turned 90 degrees clockwise
        Image.fromarray(np.ascontiguousarray(np.rot90(image, 1))).save(
            path, exif=exif
        )  # stored 24 wide, 32 high
        assert np.array_equal(load_image(path), image)
    result = run(split, tmp_path / "run", edits)
    assert (result.n_ok, result.n_failed) == (3, 0)
    assert pd.read_parquet(tmp_path / "run" / "samples.parquet")["mse_bg"].tolist() == [0.0, 0.0, 0.0]


def test_an_unreadable_edit_is_named_before_any_work_on_the_cli(split, tmp_path, capsys):
    from rses.cli import main

    edits = edits_folder(tmp_path / "edits", split)
    (edits / "b.png").write_bytes(b"not an image")
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "eval",
                "--method",
                "folder",
                "--split",
                str(split),
                "--metrics",
                "pixel",
                "--edits",
                str(edits),
                "--out",
                str(tmp_path / "run"),
            ]
        )
    err = capsys.readouterr().err
    assert exit_info.value.code != 0 and "Traceback" not in err
    assert "1 file(s) cannot be read as images (b.png" in " ".join(err.split())
    assert not (tmp_path / "run").exists()
