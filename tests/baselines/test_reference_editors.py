"""Reference editors: identity exact, paste-style exact outside the mask, clone-style = shipped targets."""

import numpy as np
import pytest

from baselines.reference import clone_style, seamless_blend
from baselines.stylize import stylize
from rses.data.manifest import load_split
from rses.editing import EDITORS, EditRequest, get_editor
from rses.errors import InvalidSampleError


def _request(sample, with_mask=True):
    return EditRequest(
        sample.id,
        sample.load_source(),
        sample.load_mask() if with_mask else None,
        sample.prompt,
        sample.style,
        sample.object_name,
        seed=0,
    )


@pytest.fixture(scope="module")
def samples():
    return load_split("test").samples[:8:3]


def test_registry_names_and_mask_flags():
    flags = {
        name: EDITORS.get(name).sees_mask
        for name in ("identity", "global-style", "paste-style", "clone-style")
    }
    assert flags == {"identity": False, "global-style": False, "paste-style": True, "clone-style": True}
    assert all(get_editor(name).name == name for name in flags)
    assert get_editor("identity").weights() == []


def test_identity_returns_the_source_exactly(samples):
    requests = [_request(s, with_mask=False) for s in samples]
    outs = get_editor("identity").edit(requests)
    assert all(np.array_equal(o, r.image) and o is not r.image for o, r in zip(outs, requests, strict=True))


def test_global_style_restyles_everything(samples):
    req = _request(samples[0], with_mask=False)
    assert np.array_equal(get_editor("global-style").edit([req])[0], stylize(req.image, req.style))


def test_paste_style_keeps_outside_exact_and_inside_stylized(samples):
    reqs = [_request(s) for s in samples]
    for req, out in zip(reqs, get_editor("paste-style").edit(reqs), strict=True):
        assert np.array_equal(out[~req.mask], req.image[~req.mask])
        assert np.array_equal(out[req.mask], stylize(req.image, req.style)[req.mask])


def test_clone_style_equals_the_shipped_targets(samples):
    reqs = [_request(s) for s in samples]
    for sample, out in zip(samples, get_editor("clone-style").edit(reqs), strict=True):
        assert np.array_equal(out, sample.load_target())


def test_mask_editors_refuse_missing_or_misshaped_masks(samples):
    req = _request(samples[0], with_mask=False)
    with pytest.raises(
        InvalidSampleError, match=rf"Sample '{samples[0].id}': editor 'clone-style' needs the"
    ):
        get_editor("clone-style").edit([req])
    bad = EditRequest("s", np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5), bool), "p", "line-art", "o")
    with pytest.raises(InvalidSampleError, match=r"Sample 's': mask shape \(4, 5\) differs"):
        get_editor("paste-style").edit([bad])


def test_seamless_blend_border_masks_and_empty_masks():
    rng = np.random.default_rng(0)
    fg, bg = rng.integers(0, 256, (2, 24, 24, 3), dtype=np.uint8)
    mask = np.zeros((24, 24), bool)
    mask[10:, 12:] = True  # touches two borders
    out = seamless_blend(fg, bg, mask)
    assert np.array_equal(out[~mask], bg[~mask]) and not np.array_equal(out[mask], bg[mask])
    assert np.array_equal(seamless_blend(fg, bg, np.zeros((24, 24), bool)), bg)
    img = np.full((24, 24, 3), 120, np.uint8)
    assert np.array_equal(clone_style(img, mask, "pixel-art")[~mask], img[~mask])
