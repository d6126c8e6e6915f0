"""Dataset builders on small fake COCO / VOC / BIG trees, and the COCO RLE helpers."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rses.data.builders import build_split, coco_mask, coco_rle_decode, select
from rses.data.manifest import STYLES, read_manifest
from rses.errors import UsageError
from rses.pixels import load_mask


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


def _rle_counts(mask):
    """Uncompressed COCO counts of a mask, by hand: column-major runs, starting with a background run."""
    flat = mask.T.ravel()
    change = np.flatnonzero(np.diff(flat.astype(int))) + 1
    counts = np.diff(np.r_[0, change, flat.size]).tolist()
    return ([0] if flat[0] else []) + counts


def test_rle_string_round_trip():
    mask = np.zeros((20, 30), bool)
    mask[3:15, 4:25] = True
    mask[8, 2] = True
    counts = _rle_counts(mask)
    assert sum(counts) == 20 * 30  # a fixture RLE covers the image exactly
    assert np.array_equal(coco_rle_decode({"size": [20, 30], "counts": _encode_counts(counts)}), mask)
    assert np.array_equal(coco_rle_decode({"size": [20, 30], "counts": counts}), mask)


def test_polygon_square_covers_pixel_centres_like_the_coco_api():
    # the example: the square [0,0, 4,0, 4,4, 0,4] holds the centres of pixels 0..3 per axis (4 x 4)
    mask = coco_mask([[0, 0, 4, 0, 4, 4, 0, 4]], 6, 6)
    assert mask.sum() == 16 and mask[:4, :4].all()
    mask = coco_mask([[1, 1, 5, 1, 5, 4, 1, 4]], 6, 8)
    assert mask.sum() == 12 and mask[1:4, 1:5].all()


W, H = 24, 18
HAND = np.zeros((H, W), bool)
HAND[2:9, 13:21] = True
HAND[12, 3:7] = True
SEGMENTATIONS = {  # annotation id -> segmentation, each a kind the COCO API decodes
    1: [[0, 0, 4, 0, 4, 4, 0, 4]],  # integer vertices
    2: [[1.3, 0.7, 9.6, 2.2, 7.1, 8.8, 0.4, 6.5]],  # fractional vertices
    3: [[2, 2, 6, 2, 6, 6, 2, 6], [12.5, 9.5, 20.5, 9.5, 16.5, 15.5]],  # two disjoint parts
    4: [[2, 2, 12, 2, 12, 10, 2, 10], [8.2, 6.7, 17.9, 6.1, 15.5, 14.4, 7.3, 13.8]],  # overlapping parts
    5: {"size": [H, W], "counts": _rle_counts(HAND)},  # uncompressed RLE, runs summing to H * W
    6: "compressed",  # compressed RLE of HAND, filled in by the COCO API's own encoder
}


def _coco_fixture(root: Path, segmentations: dict, orientation: int = 1, size=(H, W)) -> Path:
    """A COCO tree with one image per annotation (so each is picked), as pycocotools expects it."""
    from pycocotools import mask as mask_utils

    (root / "annotations").mkdir(parents=True)
    (root / "val2017").mkdir()
    images, anns = [], []
    for ann_id, seg in segmentations.items():
        if seg == "compressed":
            rle = mask_utils.encode(np.asfortranarray(HAND.astype(np.uint8)))
            seg = {"size": rle["size"], "counts": rle["counts"].decode()}
        img = Image.fromarray(np.full((*size, 3), 100, np.uint8))
        exif = img.getexif()
        if orientation != 1:
            exif[0x0112] = orientation
        img.save(root / "val2017" / f"{ann_id:012d}.jpg", exif=exif)
        images.append({"id": ann_id, "file_name": f"{ann_id:012d}.jpg", "height": H, "width": W})
        anns.append(
            {
                "id": ann_id,
                "image_id": ann_id,
                "category_id": 1,
                "iscrowd": 0,
                "area": 0.2 * H * W,
                "bbox": [0, 0, 1, 1],
                "segmentation": seg,
            }
        )
    data = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "dog"}]}
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    return root


def _reference_masks(root: Path) -> dict[str, np.ndarray]:
    """image id -> ``COCO.annToMask`` of its annotation: the reference COCO API, on the stored pixels."""
    from pycocotools.coco import COCO

    coco = COCO(str(root / "annotations" / "instances_val2017.json"))
    return {str(ann["image_id"]): coco.annToMask(ann).astype(bool) for ann in coco.dataset["annotations"]}


def test_coco_masks_equal_the_reference_api_pixel_for_pixel(tmp_path):
    root = _coco_fixture(tmp_path / "coco", SEGMENTATIONS)
    reference = _reference_masks(root)
    data = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    for ann in data["annotations"]:
        np.testing.assert_array_equal(coco_mask(ann["segmentation"], H, W), reference[str(ann["image_id"])])
    assert reference["1"].sum() == 16 and np.array_equal(
        reference["5"], HAND
    )  # the fixtures mean what they say
    split = read_manifest(build_split("coco", root, tmp_path / "out", min_area=0.0, max_area=1.0))
    assert len(split) == len(SEGMENTATIONS)
    for sample in split:
        np.testing.assert_array_equal(sample.load_mask(), reference[sample.image_id], err_msg=sample.id)


def test_rses_data_build_coco_cli_writes_the_reference_masks(tmp_path):
    root = _coco_fixture(tmp_path / "coco", SEGMENTATIONS)
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rses.cli",
            "data",
            "build",
            "coco",
            "--root",
            str(root),
            "--out",
            str(out),
            "--min-area",
            "0",
            "--max-area",
            "1",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    reference = _reference_masks(root)
    for sample in read_manifest(out / "test.jsonl"):
        np.testing.assert_array_equal(load_mask(sample.mask), reference[sample.image_id], err_msg=sample.id)


@pytest.mark.parametrize(
    ("segmentation", "match"),
    [
        (
            {"size": [H, W], "counts": [5, 10, 100]},
            rf"runs sum to 115, not {H * W} = {H} x {W}.*uninitialised",
        ),
        ({"size": [H, W], "counts": [5, 10, H * W]}, rf"runs sum to {H * W + 15}, not {H * W}"),
        ({"size": [H, W], "counts": _encode_counts([5, 10, 100])}, "runs sum to 115"),
        ({"size": [H, W], "counts": [5, -3, H * W - 2]}, "not all whole numbers >= 0"),
        ({"size": [W, H], "counts": [H * W]}, rf"RLE size \[{W}, {H}\] is not the image's \[{H}, {W}\]"),
        ([[1, 1, 5, 1]], "no polygon with 3 points or more"),
    ],
)
def test_malformed_coco_segmentations_are_refused_naming_the_annotation(tmp_path, segmentation, match):
    root = _coco_fixture(tmp_path / "coco", {7: segmentation})
    with pytest.raises(UsageError, match=rf"COCO annotation 7 of image 7 \(000000000007.jpg\).*{match}"):
        build_split("coco", root, tmp_path / "out", min_area=0.0, max_area=1.0)


def test_degenerate_polygon_parts_are_dropped():
    square = [0, 0, 4, 0, 4, 4, 0, 4]
    np.testing.assert_array_equal(
        coco_mask([square, [9, 9, 12, 9], [1, 2, 3, 4, 5, 6, 7]], H, W), coco_mask([square], H, W)
    )


@pytest.mark.parametrize("orientation", [6, 3, 8])
def test_coco_masks_follow_the_photo_exif_orientation(tmp_path, orientation):
    root = _coco_fixture(tmp_path / "coco", {3: SEGMENTATIONS[3]}, orientation)
    reference = _reference_masks(root)["3"]  # drawn on the stored 18 x 24 pixels
    turned = {6: np.rot90(reference, -1), 3: reference[::-1, ::-1], 8: np.rot90(reference, 1)}[orientation]
    split = read_manifest(build_split("coco", root, tmp_path / "out", min_area=0.0, max_area=1.0))
    sample = split.samples[0]
    np.testing.assert_array_equal(sample.load_mask(), turned)
    assert sample.load_source().shape[:2] == turned.shape


def test_annotation_size_must_match_the_stored_image(tmp_path):
    root = _coco_fixture(tmp_path / "coco", {1: SEGMENTATIONS[1]}, size=(W, H))
    with pytest.raises(UsageError, match=r"stores 24x18 pixels .* annotation .* is 18x24"):
        build_split("coco", root, tmp_path / "out", min_area=0.0, max_area=1.0)


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
    assert split.samples[0].load_mask().sum() == 15 * 10  # the COCO API's count, = the annotation's area 150
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


def _voc_tree(tmp_path: Path, objects: np.ndarray, classes: np.ndarray, save=_save_indexed) -> Path:
    root = tmp_path / "VOC2012"
    for sub in ("JPEGImages", "SegmentationObject", "SegmentationClass", "ImageSets/Segmentation"):
        (root / sub).mkdir(parents=True)
    Image.fromarray(np.full((*objects.shape, 3), 90, np.uint8)).save(root / "JPEGImages" / "2007_000001.jpg")
    save(root / "SegmentationObject" / "2007_000001.png", objects)
    save(root / "SegmentationClass" / "2007_000001.png", classes)
    (root / "ImageSets/Segmentation/val.txt").write_text("2007_000001\n")
    return root


def test_voc_void_band_is_in_neither_the_mask_nor_the_area(tmp_path):
    objects = np.zeros((16, 16), np.uint8)
    objects[4:10, 4:10] = 1  # 36 object pixels
    objects[3, 3:11] = objects[10, 3:11] = objects[3:11, 3] = objects[3:11, 10] = (
        255  # 28 void outline pixels
    )
    classes = np.where(objects == 1, 8, objects).astype(np.uint8)
    root = _voc_tree(tmp_path, objects, classes)
    split = read_manifest(build_split("voc", root, tmp_path / "out", min_area=0.0, max_area=1.0))
    np.testing.assert_array_equal(split.samples[0].load_mask(), objects == 1)
    # the area filter sees 36 / 256 = 0.1406, not (36 + 28) / 256 = 0.25: a floor of 0.2 drops the cat
    with pytest.raises(UsageError, match="No object matched"):
        build_split("voc", root, tmp_path / "out2", min_area=0.2, max_area=1.0)
    assert len(read_manifest(build_split("voc", root, tmp_path / "out3", min_area=0.14, max_area=0.15))) == 1


def test_voc_rgb_colour_label_pngs_are_refused(tmp_path):
    objects = np.zeros((16, 16), np.uint8)
    objects[4:10, 4:10] = 1

    def save_rgb(path, indices):  # the common conversion mistake: colours, not palette indices
        _save_indexed(path, indices)
        Image.open(path).convert("RGB").save(path)

    root = _voc_tree(tmp_path, objects, objects * 8, save_rgb)
    with pytest.raises(
        UsageError,
        match=r"SegmentationObject/2007_000001.png is a RGB image; labels must be "
        r"palette indices",
    ):
        build_split("voc", root, tmp_path / "out")


def test_big_threshold_follows_cascadepsp_eval_128_is_background(tmp_path):
    folder = tmp_path / "BIG" / "test"
    folder.mkdir(parents=True)
    gt = np.zeros((12, 12), np.uint8)
    gt[2:6, 2:6] = 128  # exactly 128: background in CascadePSP's eval_post.py (gt > 128)
    gt[6:10, 6:10] = 129
    Image.fromarray(np.full((12, 12, 3), 50, np.uint8)).save(folder / "a_dog_im.jpg")
    Image.fromarray(gt, "L").save(folder / "a_dog_gt.png")
    split = read_manifest(build_split("big", tmp_path / "BIG", tmp_path / "out", min_area=0.0, max_area=1.0))
    np.testing.assert_array_equal(split.samples[0].load_mask(), gt > 128)


@pytest.mark.parametrize(
    ("polygon", "match"),
    [
        ([[1, 1, 5, 1, 5, "x"]], r"polygon coordinates must be finite numbers within"),
        (
            [[1, 1, 5, 1, 5, 1e5]],
            r"polygon coordinates must be finite numbers within",
        ),  # the COCO API: ~500k points
        (
            [[1, 1, 5, 1, 5, float("nan")]],
            r"polygon coordinates must be finite numbers within",
        ),  # the COCO API: OOM
        ([[1, 1, 5, 1, 5, True]], r"polygon coordinates must be finite numbers within"),
    ],
)
def test_polygon_coordinates_must_be_finite_numbers_near_the_image(tmp_path, polygon, match):
    """Before: a string raised a raw ValueError from pycocotools, and NaN or 1e12 made the COCO API allocate
    memory until the process was killed (its polygon upsampling is proportional to the edge length)."""
    root = _coco_fixture(tmp_path / "coco", {7: polygon})
    with pytest.raises(
        UsageError, match=rf"COCO annotation 7 of image 7 \(000000000007.jpg\): {match}"
    ) as err:
        build_split("coco", root, tmp_path / "out", min_area=0.0, max_area=1.0)
    assert "\n" not in str(err.value)


def _edit_annotations(root: Path, edit) -> None:
    path = root / "annotations" / "instances_val2017.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (
            lambda d: d["annotations"][0].update(image_id=99),
            r"annotation 1 \(image_id 99, category_id 1\) cannot be read",
        ),
        (
            lambda d: d["annotations"][0].update(category_id=99),
            r"annotation 1 \(image_id 1, category_id 99\) cannot be",
        ),
        (lambda d: d["annotations"][0].update(area=None), r"annotation 1 .* cannot be read: TypeError"),
        (lambda d: d["images"][0].update(height=0), r"annotation 1 .* cannot be read: ZeroDivisionError"),
        (lambda d: d.pop("categories"), r"categories"),
        (
            lambda d: d["images"][0].update(height=10**6, width=10**6),
            r"annotation 1 .* is over the limit of",
        ),  # 1 TB
    ],
)
def test_malformed_coco_annotation_files_are_one_line_naming_the_file(tmp_path, edit, match):
    root = _coco_fixture(tmp_path / "coco", {1: SEGMENTATIONS[1]})
    _edit_annotations(root, edit)
    with pytest.raises(UsageError, match=rf"instances_val2017.json.*{match}") as err:
        build_split("coco", root, tmp_path / "out", min_area=0.0, max_area=1.0)
    assert "\n" not in str(err.value)


def test_unparsable_coco_json_and_a_missing_photo_are_one_line(tmp_path):
    root = _coco_fixture(tmp_path / "coco", {1: SEGMENTATIONS[1]})
    (root / "val2017" / "000000000001.jpg").unlink()
    with pytest.raises(UsageError, match=r"000000000001.jpg does not exist. Check --root"):
        build_split("coco", root, tmp_path / "out", min_area=0.0, max_area=1.0)
    (root / "annotations" / "instances_val2017.json").write_text("{bad")
    with pytest.raises(UsageError, match=r"instances_val2017.json is not valid JSON"):
        build_split("coco", root, tmp_path / "out", min_area=0.0, max_area=1.0)


@pytest.mark.parametrize("image_id", ["../escaped", "a/b", ".."])
def test_image_ids_that_are_paths_cannot_write_outside_the_output(tmp_path, image_id):
    """An image id names files under --out (images/<id>.jpg, masks/<id>.png): a COCO id (or VOC ImageSets line)
    holding a path used to write the photo and mask outside --out."""
    root = _coco_fixture(tmp_path / "coco", {1: SEGMENTATIONS[1]})
    _edit_annotations(
        root, lambda d: (d["images"][0].update(id=image_id), d["annotations"][0].update(image_id=image_id))
    )
    out = tmp_path / "deep" / "out"
    with pytest.raises(UsageError, match=rf"image id {image_id!r} of .*must be a plain name") as err:
        build_split("coco", root, out, min_area=0.0, max_area=1.0)
    assert "\n" not in str(err.value)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.suffix in (".jpg", ".png")) == ["000000000001.jpg"]
