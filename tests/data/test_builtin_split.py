"""The built-in split: loads (hashes verified), >= 40 test samples, train disjoint by photo, reproducible."""

import numpy as np

from rses.data.builtin import PHOTOS, load_photo, photo_masks, photo_targets
from rses.data.manifest import STYLES, load_split
from rses.io import load_image, load_mask


def test_builtin_splits_load_and_are_disjoint_by_photo():
    test, train = load_split("test"), load_split("train")
    assert len(test) >= 40 and len(train) >= 4
    assert {s.image_id for s in test}.isdisjoint({s.image_id for s in train})
    assert {s.style for s in test} == set(STYLES)
    assert all(s.target is not None for s in [*test, *train])
    assert len({s.id for s in test}) == len(test)


def test_targets_equal_source_outside_mask():
    for sample in load_split("test").samples[::7]:
        source, mask, target = sample.load_source(), sample.load_mask(), sample.load_target()
        assert np.array_equal(target[~mask], source[~mask])
        assert (target[mask] != source[mask]).any()


def test_generator_reproduces_the_shipped_files_of_one_photo():
    spec = next(p for p in PHOTOS if p.photo == "rocket")
    split = load_split("train")
    image = load_photo(spec.photo)
    assert np.array_equal(image, load_image(split.root / "images" / "rocket.png"))
    mask = photo_masks(spec, image)["rocket"]
    assert np.array_equal(mask, load_mask(split.root / "masks" / "rocket-rocket.png"))
    for style, target in photo_targets(image, mask).items():
        assert np.array_equal(target, load_image(split.root / "targets" / f"rocket-rocket-{style}.png")), (
            style
        )


def test_provenance_names_every_photo_and_object():
    text = (load_split("test").root / "PROVENANCE.md").read_text()
    for spec in PHOTOS:
        assert f"skimage.data.{spec.photo}()" in text
        for obj in spec.objects:
            assert f"`{obj.name}`: GrabCut box {list(obj.box)}" in text
