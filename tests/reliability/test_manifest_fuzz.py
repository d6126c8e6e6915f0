"""Property tests: any manifest either loads or raises InvalidSampleError naming the line or sample."""

import json
import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rses.data.manifest import read_manifest, sample_record, write_manifest
from rses.errors import InvalidSampleError
from rses.io import save_image, save_mask


def make_split(root):
    image = np.full((8, 8, 3), 90, np.uint8)
    mask = np.zeros((8, 8), bool)
    mask[2:5, 2:5] = True
    save_image(root / "images" / "a.png", image)
    save_mask(root / "masks" / "a.png", mask)
    record = sample_record(root, "a", root / "images/a.png", root / "masks/a.png", "cat", "pixel-art")
    return write_manifest(root / "split.jsonl", [record])


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.floats(allow_nan=True),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
keys = st.sampled_from(["id", "source", "mask", "object", "style", "prompt", "target", "sha256", "image_id"])


@settings(max_examples=80, deadline=None)
@given(key=keys, value=values)
def test_any_field_replaced_by_any_json_value_loads_or_fails_clearly(tmp_path_factory, key, value):
    root = tmp_path_factory.mktemp("split")
    path = make_split(root)
    record = json.loads(path.read_text())
    record[key] = value
    path.write_text(json.dumps(record) + "\n")
    try:
        split = read_manifest(path)
    except InvalidSampleError as err:
        assert "line 1" in str(err).lower() or "'a'" in str(err) or str(value) in str(err), str(err)
    else:
        assert len(split) == 1


@settings(max_examples=60, deadline=None)
@given(garbage=st.binary(max_size=64))
def test_arbitrary_bytes_as_a_manifest_line_fail_clearly(tmp_path_factory, garbage):
    root = tmp_path_factory.mktemp("split")
    path = make_split(root)
    path.write_bytes(path.read_bytes() + garbage + b"\n")
    try:
        split = read_manifest(path)
    except InvalidSampleError as err:
        named = re.search(r"line (\d+) of", str(err).lower())
        assert named and 2 <= int(named.group(1)) <= 2 + garbage.count(b"\n"), str(err)
    else:
        assert len(split) == 1  # blank or whitespace-only garbage is ignored
