"""Manifest loading: a valid split loads; every kind of broken sample raises InvalidSampleError naming it."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rses.data.manifest import load_split, read_manifest, sample_record, write_manifest
from rses.errors import InvalidSampleError, UsageError
from rses.io import save_image, save_mask


def _mask(h=8, w=8):
    m = np.zeros((h, w), bool)
    m[2:5, 3:6] = True
    return m


@pytest.fixture
def split_dir(tmp_path: Path) -> Path:
    """A two-sample split: one with a target, one without."""
    rng = np.random.default_rng(0)
    save_image(tmp_path / "images" / "a.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    save_mask(tmp_path / "masks" / "a.png", _mask())
    save_image(tmp_path / "targets" / "a.png", np.zeros((8, 8, 3), np.uint8))
    records = [
        sample_record(
            tmp_path,
            "s1",
            tmp_path / "images/a.png",
            tmp_path / "masks/a.png",
            "cat",
            "pixel-art",
            tmp_path / "targets/a.png",
            image_id="a",
        ),
        sample_record(tmp_path, "s2", tmp_path / "images/a.png", tmp_path / "masks/a.png", "cat", "line-art"),
    ]
    write_manifest(tmp_path / "split.jsonl", records)
    return tmp_path


def _rewrite(split_dir: Path, index: int, **changes) -> Path:
    path = split_dir / "split.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[index].update(changes)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_valid_split_loads_with_paths_inside_root_and_default_prompt(split_dir):
    split = load_split(str(split_dir / "split.jsonl"))
    assert split.name == "split" and len(split) == 2
    s1, s2 = split.samples
    assert s1.source == (split_dir / "images/a.png").resolve() and s1.target is not None and s2.target is None
    assert s2.prompt == "make the cat in line-art style, keep other area unchanged"
    assert s1.image_id == "a" and s1.load_mask().sum() == 9 and s1.load_source().shape == (8, 8, 3)
    assert len(split.manifest_sha256) == 64


def test_prompt_defaults_when_missing(split_dir):
    _rewrite(split_dir, 0, prompt=None)
    assert read_manifest(split_dir / "split.jsonl").samples[0].prompt.startswith("make the cat in pixel-art")


def test_bad_hash(split_dir):
    save_image(split_dir / "targets" / "a.png", np.full((8, 8, 3), 7, np.uint8))
    with pytest.raises(InvalidSampleError, match=r"Sample 's1': target .* has sha256 .*rebuild"):
        read_manifest(split_dir / "split.jsonl")


def _replace_file(split_dir, rel, writer, *args):
    path = split_dir / rel
    writer(path, *args)
    from rses.weights import sha256_file

    rows = [json.loads(line) for line in (split_dir / "split.jsonl").read_text().splitlines()]
    for row in rows:
        for key in ("source", "mask", "target"):
            if row.get(key) == rel:
                row["sha256"][key] = sha256_file(path)
    (split_dir / "split.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_size_mismatch(split_dir):
    _replace_file(split_dir, "targets/a.png", save_image, np.zeros((8, 9, 3), np.uint8))
    with pytest.raises(InvalidSampleError, match=r"Sample 's1': target is 9x8 but the source is 8x8"):
        read_manifest(split_dir / "split.jsonl")


@pytest.mark.parametrize(
    ("mask", "problem"),
    [(np.zeros((8, 8), bool), "is empty"), (np.ones((8, 8), bool), "is full")],
)
def test_empty_and_full_masks(split_dir, mask, problem):
    _replace_file(split_dir, "masks/a.png", save_mask, mask)
    with pytest.raises(InvalidSampleError, match=rf"Sample 's1': mask a.png {problem}"):
        read_manifest(split_dir / "split.jsonl")


def test_non_binary_mask(split_dir):
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8)
    _replace_file(split_dir, "masks/a.png", lambda p, a: Image.fromarray(a, "L").save(p), gray)
    with pytest.raises(InvalidSampleError, match=r"Sample 's1': Mask .* is not binary \(it has 64 distinct"):
        read_manifest(split_dir / "split.jsonl")


def test_path_escaping_root(split_dir):
    _rewrite(split_dir, 1, mask="../outside.png")
    with pytest.raises(
        InvalidSampleError, match=r"Sample 's2': mask path '../outside.png' .* outside the split"
    ):
        read_manifest(split_dir / "split.jsonl")


def test_absolute_path_outside_root(split_dir, tmp_path_factory):
    other = tmp_path_factory.mktemp("other") / "x.png"
    _rewrite(split_dir, 0, source=str(other))
    with pytest.raises(InvalidSampleError, match=r"Sample 's1': source path .* outside the split root"):
        read_manifest(split_dir / "split.jsonl")


def test_symlink_escaping_root(split_dir, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    save_mask(outside / "m.png", _mask())
    os.symlink(outside / "m.png", split_dir / "masks" / "link.png")
    _rewrite(split_dir, 1, mask="masks/link.png")
    with pytest.raises(
        InvalidSampleError, match=r"Sample 's2': mask path 'masks/link.png' resolves to .*outside"
    ):
        read_manifest(split_dir / "split.jsonl")


def test_duplicate_id(split_dir):
    _rewrite(split_dir, 1, id="s1")
    with pytest.raises(InvalidSampleError, match=r"Sample 's1': duplicate id on lines 1 and 2"):
        read_manifest(split_dir / "split.jsonl")


def test_missing_file(split_dir):
    (split_dir / "targets" / "a.png").unlink()
    with pytest.raises(InvalidSampleError, match=r"Sample 's1': target file .* does not exist"):
        read_manifest(split_dir / "split.jsonl")


def test_malformed_line(split_dir):
    path = split_dir / "split.jsonl"
    path.write_text(path.read_text() + "{not json\n")
    with pytest.raises(InvalidSampleError, match=r"Line 3 of .* is not valid JSON"):
        read_manifest(path)


def test_missing_key_and_missing_hash(split_dir):
    path = _rewrite(split_dir, 0, style=None)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    del rows[0]["style"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(InvalidSampleError, match=r"Sample 's1' \(line 1 .*\) lacks style"):
        read_manifest(path)
    rows[0]["style"] = "pixel-art"
    del rows[0]["sha256"]["target"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(InvalidSampleError, match=r"Sample 's1': no sha256 for its target"):
        read_manifest(path)


def test_unknown_spec_lists_available(tmp_path, monkeypatch):
    monkeypatch.setenv("RSES_SPLITS_DIR", str(tmp_path))
    with pytest.raises(UsageError, match=r"Unknown split 'coco/nope'.*Available: test, train"):
        load_split("coco/nope")


def test_registered_name_resolves_in_splits_dir(split_dir, tmp_path_factory, monkeypatch):
    splits = tmp_path_factory.mktemp("splits")
    monkeypatch.setenv("RSES_SPLITS_DIR", str(splits))
    os.rename(split_dir, splits / "mine")
    os.rename(splits / "mine" / "split.jsonl", splits / "mine" / "val.jsonl")
    split = load_split("mine/val")
    assert split.name == "mine/val" and len(split) == 2


def _records(split_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (split_dir / "split.jsonl").read_text().splitlines()]


def test_parquet_manifest_loads_the_same_samples(split_dir):
    jsonl = load_split(str(split_dir / "split.jsonl"))
    write_manifest(split_dir / "split.parquet", _records(split_dir))
    parquet = load_split(str(split_dir / "split.parquet"))
    assert parquet.name == "split" and parquet.manifest_path.suffix == ".parquet"
    assert parquet.samples == jsonl.samples  # s2 has no target: its null target and hash are absent
    assert parquet.samples[1].sha256.keys() == {"source", "mask"}


def test_parquet_manifest_errors_name_the_row(split_dir):
    records = _records(split_dir)
    write_manifest(split_dir / "dup.parquet", [records[0], records[1] | {"id": "s1"}])
    with pytest.raises(
        InvalidSampleError, match=r"Sample 's1': duplicate id on rows 1 and 2 of .*dup.parquet"
    ):
        read_manifest(split_dir / "dup.parquet")
    write_manifest(split_dir / "out.parquet", [records[0], records[1] | {"mask": "../outside.png"}])
    with pytest.raises(InvalidSampleError, match=r"Sample 's2': mask path '../outside.png' .* outside"):
        read_manifest(split_dir / "out.parquet")
    write_manifest(split_dir / "nostyle.parquet", [{k: v for k, v in records[1].items() if k != "style"}])
    with pytest.raises(InvalidSampleError, match=r"Sample 's2' \(row 1 of .*\) lacks style"):
        read_manifest(split_dir / "nostyle.parquet")
    (split_dir / "junk.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(InvalidSampleError, match=r"junk.parquet cannot be read as Parquet"):
        read_manifest(split_dir / "junk.parquet")


def test_a_soft_mask_in_a_split_names_a_remedy_that_exists(split_dir, capsys):
    """A JPEG mask (compression noise) in a split: the message names remedies that exist, and the first works."""
    from rses.cli import main

    mask = _mask() * np.uint8(255)
    _replace_file(
        split_dir, "masks/a.png", lambda p, a: Image.fromarray(a).save(p, format="JPEG", quality=60), mask
    )
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "eval",
                "--method",
                "identity",
                "--split",
                str(split_dir / "split.jsonl"),
                "--metrics",
                "mse_bg",
                "--out",
                str(split_dir / "run"),
            ]
        )
    err = " ".join(capsys.readouterr().err.split())
    assert exit_info.value.code == 1 and "Traceback" not in err
    assert "Sample 's1': Mask" in err and "is not binary" in err
    assert "pass --mask-threshold (e.g. 0.5) to rses eval" in err and "save it binarised" in err
    with pytest.raises(SystemExit) as exit_info:  # the remedy named first works
        main(
            [
                "eval",
                "--method",
                "identity",
                "--split",
                str(split_dir / "split.jsonl"),
                "--metrics",
                "mse_bg",
                "--out",
                str(split_dir / "run"),
                "--mask-threshold",
                "0.5",
            ]
        )
    assert exit_info.value.code in (0, None), capsys.readouterr().err
