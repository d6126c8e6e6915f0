"""The real-weight tier: LPIPS with real ImageNet trunks, checked against the ``lpips`` package itself.

The trunks are read from ``RSES_TEST_LPIPS_WEIGHTS`` (AlexNet) and ``RSES_TEST_LPIPS_VGG_WEIGHTS`` (VGG16):
torchvision state dicts, ``.safetensors``, features-only or full. ``.ci/run`` points them at
``../shared/weights/`` when those files exist; unset, every test here skips and says which variable to set.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from baselines.reference import clone_style, paste_style
from baselines.stylize import stylize
from rses.data.manifest import load_split
from rses.metrics import RSES
from rses.metrics.rses_score import LPIPS_CEILING

pytestmark = pytest.mark.real_weights

ENV = {"alex": "RSES_TEST_LPIPS_WEIGHTS", "vgg": "RSES_TEST_LPIPS_VGG_WEIGHTS"}
# float32 convolutions on two code paths (rses' cached features + region mean vs lpips' forward + numpy mean):
# ~1e-6 relative per layer, a few layers summed; 1e-4 relative leaves room for other CPU kernels.
REL = 1e-4


def trunk(net: str) -> Path:
    value = os.environ.get(ENV[net])
    if not value:
        pytest.skip(f"real LPIPS {net} trunk not given: set {ENV[net]} to a torchvision {net} .safetensors")
    if not Path(value).is_file():
        pytest.fail(f"{ENV[net]}={value} is not a file")
    return Path(value)


def reference_lpips(net: str, path: Path):
    """``lpips.LPIPS`` with the trunk copied in by hand: torchvision ``features.<i>`` -> lpips ``slice<k>.<i>``."""
    import lpips

    model = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, spatial=True, verbose=False).eval()
    state = {
        k.removeprefix("features."): v for k, v in load_file(str(path)).items() if k.startswith("features.")
    }
    mapped = {key: state[key.split(".", 1)[1]] for key in model.net.state_dict()}
    model.net.load_state_dict(mapped)
    return model


def to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1).float().div(255)


def pairs():
    """Fixed (source, edited, mask) triples from two built-in samples, at 256 px on the long side (VGG is slow
    at 512): the sample's target, a blur and a global restyle."""
    import cv2

    samples = load_split("test").samples
    out = []
    for sample in (samples[0], samples[len(samples) // 2]):
        source, mask, target = sample.load_source(), sample.load_mask(), sample.load_target()
        size = (source.shape[1] // 2, source.shape[0] // 2)
        source, target = (cv2.resize(im, size, interpolation=cv2.INTER_AREA) for im in (source, target))
        mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        out += [
            (source, target, mask),
            (source, cv2.GaussianBlur(source, (0, 0), 2.0), mask),
            (source, stylize(source, sample.style), mask),
        ]
    return out


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_lpips_bg_equals_the_lpips_package_on_fixed_pairs(net):
    path = trunk(net)
    reference = reference_lpips(net, path)
    suite = RSES(metrics=["lpips_bg"], lpips_net=net, lpips_weights=str(path))
    for i, (source, edited, mask) in enumerate(pairs()):
        with torch.no_grad():
            spatial = reference(to_tensor(source)[None], to_tensor(edited)[None], normalize=True)
        spatial = spatial.detach().double().numpy()[0, 0]
        want = spatial[~mask].mean()
        got = suite.score(f"pair{i}", source, edited, mask, "pixel-art")["lpips_bg"]
        assert got == pytest.approx(want, rel=REL), (net, i)
        assert want > 1e-3, "pairs are chosen to differ"


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_identity_is_zero_and_features_only_state_dict_loads(net):
    path = trunk(net)
    state = load_file(str(path))
    assert all(k.startswith("features.") for k in state), "the shipped trunks are features-only"
    sample = load_split("test").samples[0]
    source, mask = sample.load_source(), sample.load_mask()
    suite = RSES(metrics=["lpips_bg", "lpips_in"], lpips_net=net, lpips_weights=str(path))
    got = suite.score(sample.id, source, source, mask, sample.style, sample.load_target())
    assert got["lpips_bg"] == 0.0
    assert got["lpips_in"] > 0.01  # the source is not the stylized target


def test_lpips_bg_ranks_the_reference_editors_on_the_builtin_split():
    path = trunk("alex")
    samples = load_split("test").samples[::6]  # every 6th sample: all photos and styles, 26 samples
    editors = {
        "identity": lambda im, m, s: im,
        "clone-style": clone_style,
        "paste-style": paste_style,
        "global-style": lambda im, m, s: stylize(im, s),
    }
    suite = RSES(metrics=["lpips_bg", "ref_gain", "rses_ref_lpips"], lpips_weights=str(path))
    means = {}
    for name, edit in editors.items():
        rows = []
        for sample in samples:
            source, mask = sample.load_source(), sample.load_mask()
            edited = edit(source, mask, sample.style)
            row = suite.score(sample.id, source, edited, mask, sample.style, sample.load_target())
            # the combined score, by hand from its two terms and the pinned ceiling
            by_hand = np.sqrt(row["ref_gain"] * np.clip(1 - row["lpips_bg"] / LPIPS_CEILING, 0, 1))
            assert row["rses_ref_lpips"] == pytest.approx(by_hand, abs=1e-12), (name, sample.id)
            rows.append(row)
        means[name] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    lp = {name: m["lpips_bg"] for name, m in means.items()}
    assert lp["identity"] == 0.0
    assert lp["identity"] < lp["clone-style"] < lp["paste-style"] < lp["global-style"], lp
    assert lp["global-style"] > 0.2 > lp["paste-style"], lp
    combined = {name: m["rses_ref_lpips"] for name, m in means.items()}
    assert combined["identity"] == 0.0
    assert combined["global-style"] < 0.4 < 0.9 < combined["paste-style"] < combined["clone-style"], combined
