"""Dataset builders on small fake COCO / VOC / BIG trees, and the COCO RLE helpers."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rses.data.builders import build_split, coco_mask, coco_rle_decode, select
from rses.data.manifest import STYLES, read_manifest
from rses.errors import UsageError


def _encode_counts(counts):
    """COCO's rleToString, mirrored from the C reference, for round-trip tests."""
    out = []
    for i, x in enumerate(counts):
        if i > 2:
            x -= counts[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr((c | 0x20 if more else c) + 48))
    return "".join(out)


def test_rle_string_round_trip():
    mask = np.zeros((20, 30), bool)
    mask[3:15, 4:25] = True
    mask[8, 2] = True
    flat = mask.T.ravel()
    change = np.flatnonzero(np.diff(flat.astype(int))) + 1
    counts = np.diff(np.r_[0, change, flat.size]).tolist()
    counts = ([0] if flat[0] else []) + counts
    assert np.array_equal(coco_rle_decode({"size": [20, 30], "counts": _encode_counts(counts)}), mask)
    assert np.array_equal(coco_rle_decode({"size": [20, 30], "counts": counts}), mask)


def test_polygon_rasterizes():
    mask = coco_mask([[1, 1, 5, 1, 5, 4, 1, 4]], 6, 8)
    assert mask.sum() == 20 and mask[1:5, 1:6].all()


def _fake_coco(root: Path, n: int = 6) -> Path:
    (root / "annotations").mkdir(parents=True)
    (root / "val2017").mkdir()
    images, anns = [], []
    for i in range(n):
        Image.fromarray(np.full((20, 30, 3), 10 * i, np.uint8)).save(root / "val2017" / f"{i:012d}.jpg")
        images.append({"id": i, "file_name": f"{i:012d}.jpg", "height": 20, "width": 30})
        anns.append(
            {
                "id": 10 * i,
                "image_id": i,
                "category_id": 1,
                "iscrowd": 0,
                "area": 150.0,
                "segmentation": [[2, 2, 17, 2, 17, 12, 2, 12]],
            }
        )
        anns.append(
            {
                "id": 10 * i + 1,
                "image_id": i,
                "category_id": 2,
                "iscrowd": 1,
                "area": 200.0,
                "segmentation": {"size": [20, 30], "counts": [0, 200, 400]},
            }
        )
        anns.append(
            {
                "id": 10 * i + 2,
                "image_id": i,
                "category_id": 3,
                "iscrowd": 0,
                "area": 2.0,
                "segmentation": [[0, 0, 1, 0, 1, 1]],
            }
        )
    data = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": 1, "name": "dog"}, {"id": 2, "name": "crowd"}, {"id": 3, "name": "speck"}],
    }
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    return root


def test_coco_builder_selects_non_crowd_objects_in_area_range(tmp_path):
    root = _fake_coco(tmp_path / "coco")
    manifest = build_split("coco", root, tmp_path / "out", seed=3, min_area=0.05, max_area=0.6, limit=5)
    split = read_manifest(manifest)
    assert len(split) == 5
    assert {s.object_name for s in split} == {"dog"}
    assert [s.style for s in split] == [*STYLES, STYLES[0]]
    assert split.samples[0].load_mask().sum() == 16 * 11
    again = build_split("coco", root, tmp_path / "out2", seed=3, min_area=0.05, max_area=0.6, limit=5)
    assert [s.id for s in read_manifest(again)] == [s.id for s in split]


def test_seed_changes_the_order_and_empty_selection_is_an_error(tmp_path):
    root = _fake_coco(tmp_path / "coco", n=8)
    ids = {
        seed: [s.image_id for s in read_manifest(build_split("coco", root, tmp_path / f"o{seed}", seed=seed))]
        for seed in (0, 1)
    }
    assert sorted(ids[0]) == sorted(ids[1]) and ids[0] != ids[1]
    with pytest.raises(UsageError, match="No object matched"):
        build_split("coco", root, tmp_path / "none", min_area=0.9, max_area=1.0)


def test_select_skips_categories_repeated_in_an_image():
    from rses.data.builders import Candidate

    def cand(name):
        return Candidate("img", Path("x.jpg"), name, 0.2, lambda: None)

    assert select({"img": [cand("dog"), cand("dog")]}, 0, 0.0, 1.0, None) == []
    assert [
        c.object_name for c in select({"img": [cand("dog"), cand("dog"), cand("cat")]}, 0, 0.0, 1.0, None)
    ] == ["cat"]


def _save_indexed(path: Path, indices: np.ndarray) -> None:
    """A palette PNG like VOC's (distinct colour per index, so PNG saving keeps the indices)."""
    img = Image.fromarray(indices, "L").convert("P")
    img.putpalette([v for i in range(256) for v in (i, 255 - i, (7 * i) % 256)])
    img.save(path)


def test_voc_builder(tmp_path):
    root = tmp_path / "VOC2012"
    for sub in ("JPEGImages", "SegmentationObject", "SegmentationClass", "ImageSets/Segmentation"):
        (root / sub).mkdir(parents=True)
    objects = np.zeros((16, 16), np.uint8)
    objects[2:8, 2:8] = 1
    objects[9:15, 9:15] = 2
    objects[8, :] = 255  # void boundary
    classes = np.where(objects == 1, 8, np.where(objects == 2, 15, objects)).astype(np.uint8)  # cat, person
    for name in ("2007_000001", "2007_000002"):
        Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(root / "JPEGImages" / f"{name}.jpg")
        _save_indexed(root / "SegmentationObject" / f"{name}.png", objects)
        _save_indexed(root / "SegmentationClass" / f"{name}.png", classes)
    (root / "ImageSets/Segmentation/val.txt").write_text("2007_000001\n2007_000002\n")
    split = read_manifest(build_split("voc", root, tmp_path / "out", min_area=0.01, max_area=0.5))
    assert len(split) == 2 and {s.object_name for s in split} <= {"cat", "person"}
    assert np.asarray(Image.open(root / "SegmentationClass" / "2007_000001.png"))[3, 3] == 8
    for s in split:
        assert s.load_mask().sum() == 36


def test_big_builder(tmp_path):
    folder = tmp_path / "BIG" / "test"
    folder.mkdir(parents=True)
    gt = np.zeros((12, 12), np.uint8)
    gt[3:9, 3:9] = 255
    for stem in ("2008_000001_dog", "street_scene"):
        Image.fromarray(np.full((12, 12, 3), 50, np.uint8)).save(folder / f"{stem}_im.jpg")
        Image.fromarray(gt, "L").save(folder / f"{stem}_gt.png")
    split = read_manifest(build_split("big", tmp_path / "BIG", tmp_path / "out", min_area=0.1, max_area=0.5))
    assert sorted(s.object_name for s in split) == ["dog", "object"]


def test_unknown_dataset_and_missing_root(tmp_path):
    with pytest.raises(UsageError, match="Unknown dataset 'ade'"):
        build_split("ade", tmp_path, tmp_path / "o")
    with pytest.raises(UsageError, match="VOC image set not found"):
        build_split("voc", tmp_path, tmp_path / "o")
