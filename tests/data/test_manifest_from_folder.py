"""`rses data manifest DIR` writes a split manifest (with sha256 hashes) from a folder of images and masks."""

import hashlib
import json

import numpy as np
import pytest

from rses.cli import main
from rses.data.manifest import read_manifest
from rses.io import save_image, save_mask


def _mask(box):
    m = np.zeros((16, 16), bool)
    m[box] = True
    return m


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "mydata"
    rng = np.random.default_rng(0)
    for name in ("cat", "street"):
        save_image(root / "images" / f"{name}.png", rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
    save_mask(root / "masks" / "cat.png", _mask(np.s_[2:8, 2:8]))  # same stem: object "object" (or --object)
    save_mask(root / "masks" / "street-car.png", _mask(np.s_[4:9, 1:12]))  # <image>-<object>
    save_mask(root / "masks" / "street-traffic-light.png", _mask(np.s_[0:5, 12:15]))
    save_image(
        root / "targets" / "street-car-pixel-art.png", rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
    )
    return root


def run(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main(["data", "manifest", *map(str, args)])
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_writes_a_loadable_manifest_with_the_file_hashes(capsys, folder):
    code, out, err = run(capsys, folder, "--styles", "pixel-art,cyberpunk")
    assert code == 0, err
    manifest = folder / "split.jsonl"
    assert str(manifest) in " ".join(out.split())
    split = read_manifest(manifest)  # verifies every hash, size and mask
    assert [s.id for s in split.samples] == [
        "cat-pixel-art",
        "cat-cyberpunk",
        "street-car-pixel-art",
        "street-car-cyberpunk",
        "street-traffic-light-pixel-art",
        "street-traffic-light-cyberpunk",
    ]
    records = [json.loads(line) for line in manifest.read_text().splitlines()]
    car = records[2]
    assert (car["object"], car["image_id"], car["source"], car["mask"]) == (
        "car",
        "street",
        "images/street.png",
        "masks/street-car.png",
    )
    assert car["target"] == "targets/street-car-pixel-art.png" and "target" not in records[3]
    for key in ("source", "mask", "target"):
        assert car["sha256"][key] == hashlib.sha256((folder / car[key]).read_bytes()).hexdigest()
    assert records[4]["object"] == "traffic light"
    assert records[0]["prompt"] == "make the object in pixel-art style, keep other area unchanged"


def test_a_mask_without_its_image_is_a_one_line_error(capsys, folder):
    save_mask(folder / "masks" / "dog.png", _mask(np.s_[1:3, 1:3]))
    code, _, err = run(capsys, folder)
    assert code == 2
    assert "dog.png" in err and "images/" in err


def test_an_image_without_a_mask_is_named_and_skipped(capsys, folder):
    save_image(folder / "images" / "lonely.png", np.zeros((16, 16, 3), np.uint8))
    code, out, err = run(capsys, folder, "--styles", "line-art", "--name", "one")
    assert code == 0, err
    assert "lonely.png" in out + err
    assert len(read_manifest(folder / "one.jsonl")) == 3


def test_a_folder_without_images_and_masks_says_what_layout_it_expects(capsys, tmp_path):
    code, _, err = run(capsys, tmp_path)
    assert code == 2 and "images/" in err and "masks/" in err
