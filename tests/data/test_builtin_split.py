"""The built-in split: loads (hashes verified), big enough to rank editors, disjoint by photo, reproducible."""

import hashlib

import numpy as np

from rses.data.builtin import PHOTOS, make_builtin_photo
from rses.data.manifest import STYLES, load_split


def test_builtin_split_is_big_enough_and_disjoint_by_photo():
    test, train = load_split("test"), load_split("train")
    assert len(test) >= 150 and len(train) >= 4
    assert len({s.image_id for s in test}) >= 8
    assert len({(s.image_id, s.object_name) for s in test}) >= 30
    assert {s.image_id for s in test}.isdisjoint({s.image_id for s in train})
    assert {s.style for s in test} == set(STYLES)
    assert all(s.target is not None for s in [*test, *train])
    assert len({s.id for s in test}) == len(test)


def test_photos_are_512_px_on_the_long_side():
    for sample in load_split("test").samples[::4] + load_split("train").samples[::4]:
        assert max(sample.load_source().shape[:2]) == 512, sample.id


def test_targets_equal_source_outside_mask():
    for sample in load_split("test").samples[::13]:
        source, mask, target = sample.load_source(), sample.load_mask(), sample.load_target()
        assert np.array_equal(target[~mask], source[~mask])
        assert (target[mask] != source[mask]).any()


def test_generator_reproduces_the_shipped_files_of_one_photo_byte_for_byte(tmp_path):
    """The cheapest photo (one object) regenerated: every file's sha256 equals the manifest's."""
    spec = next(p for p in PHOTOS if p.photo == "clock")
    records = make_builtin_photo(spec, tmp_path)
    shipped = {s.id: s for s in load_split(spec.split)}
    assert len(records) == len(STYLES) * len(spec.objects)
    for record in records:
        sample = shipped[record["id"]]
        for key, path in (("source", sample.source), ("mask", sample.mask), ("target", sample.target)):
            fresh = (tmp_path / record[key]).read_bytes()
            assert hashlib.sha256(fresh).hexdigest() == record["sha256"][key], (record["id"], key)
            assert fresh == path.read_bytes(), (record["id"], key)


def test_provenance_names_every_photo_and_object():
    text = (load_split("test").root / "PROVENANCE.md").read_text()
    for spec in PHOTOS:
        assert f"`{spec.origin}`" in text
        for obj in spec.objects:
            assert f"`{obj.name}`: GrabCut box {list(obj.box)}" in text
