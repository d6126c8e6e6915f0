"""Crop policies for CLIP inputs, and the GPU-shaped scoring path: values stay on the device until the batch is
done, pixel metrics have a torch path, batch size by device, opt-in metric dtype."""

import math

import numpy as np
import pytest
import torch
from metrics_kit import box_mask, photo, posterize

import rses.metrics.suite as suite_module
from rses.errors import UsageError
from rses.metrics import RSES, rsm, rsm_gain, style_leakage
from rses.metrics.clip_views import clip_views, combine_views, letterbox, tiles
from rses.metrics.fidelity import erode, erode_torch, laplacian, laplacian_torch
from rses.metrics.pixel import ssim_map

FILL = (122, 116, 104)


@pytest.mark.parametrize("shape", [(7, 3), (3, 7), (5, 5), (40, 8), (9, 31)])
def test_letterbox_and_tiles_keep_every_pixel_in_square_views(shape):
    image = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    (boxed,) = clip_views(image, "letterbox", FILL)
    h, w = shape
    side = max(h, w)
    assert boxed.shape == (side, side, 3)
    top, left = (side - h) // 2, (side - w) // 2
    assert np.array_equal(boxed[top : top + h, left : left + w], image)
    outside = np.ones((side, side), bool)
    outside[top : top + h, left : left + w] = False
    assert (boxed[outside] == FILL).all()
    views = tiles(image)
    assert len(views) == math.ceil(max(h, w) / min(h, w)) and all(
        v.shape == (min(h, w),) * 2 + (3,) for v in views
    )
    covered = np.zeros(shape, int)  # tiles lie along the long side, start at 0 and end at the far edge
    step = (
        [round(i * (max(h, w) - min(h, w)) / (len(views) - 1)) for i in range(len(views))]
        if len(views) > 1
        else [0]
    )
    for start, view in zip(step, views, strict=True):
        window = np.s_[start : start + w] if h >= w else np.s_[:, start : start + h]
        assert np.array_equal(view, image[window])
        covered[window] += 1
    assert (covered >= 1).all()
    assert clip_views(image, "center-crop", FILL)[0] is image
    with pytest.raises(UsageError, match="letterbox, tile, center-crop"):
        clip_views(image, "squash", FILL)


def test_letterboxed_input_reaches_clip_whole(clip_backend):
    """open_clip's transform centre-crops: after letterboxing, both ends of a 5:1 crop are still in its output."""
    tall = np.zeros((100, 20, 3), np.uint8)
    tall[:10] = 255  # white ends on black
    tall[-10:] = 255
    pre = clip_backend.preprocess
    from PIL import Image

    seen = pre(Image.fromarray(letterbox(tall, clip_backend.fill)))
    cropped = pre(Image.fromarray(tall))
    assert (
        seen[:, :3].amax() > 1.0 and seen[:, -3:].amax() > 1.0
    )  # white (normalised > 1) at the top and bottom
    assert cropped.amax() < 0  # the paper's centre crop keeps only the black middle


def test_combine_views_is_the_renormalised_mean():
    rows = torch.nn.functional.normalize(torch.randn(3, 8), dim=1)
    want = rows.mean(0) / rows.mean(0).norm()
    torch.testing.assert_close(combine_views(rows), want)
    assert combine_views(rows[:1]) is not None and torch.equal(combine_views(rows[:1]), rows[0])


@pytest.mark.parametrize("policy", ["letterbox", "tile", "center-crop"])
def test_functional_clip_metrics_equal_the_suite_and_identity_is_exactly_zero(policy, clip_backend):
    src, mask = photo("rocket"), box_mask(64, 4, 60, 26, 38)  # a 56x12 object
    edt = np.where(mask[..., None], posterize(src), src)
    suite = RSES(metrics=["rsm", "rsm_gain", "style_leakage"], clip_backend=clip_backend, crop_policy=policy)
    got = suite.score("a", src, edt, mask, "pixel-art")
    m = torch.from_numpy(mask)
    # one input per call here, several per batch in the suite: float32 embedding rounding, ~1e-7
    assert rsm(clip_backend, edt, m, "pixel-art", crop_policy=policy) == pytest.approx(got["rsm"], abs=1e-6)
    assert rsm_gain(clip_backend, src, edt, m, "pixel-art", crop_policy=policy) == pytest.approx(
        got["rsm_gain"], abs=1e-6
    )
    assert (
        style_leakage(clip_backend, src, edt, m, "pixel-art", crop_policy=policy) == 0.0
    )  # background untouched
    assert rsm_gain(clip_backend, src, src, m, "pixel-art", crop_policy=policy) == 0.0
    assert suite.config()["crop_policy"] == policy


def test_identity_edit_is_exactly_zero_whatever_the_batch(clip_backend, lpips_backend):
    """Exact by construction: the identity edit shares the source's embedding / features, in any batch."""
    names = ["astronaut", "chelsea", "rocket", "coffee", "astronaut"]
    items = [
        {
            "sample_id": f"s{i}",
            "source": photo(name),
            "edited": photo(name) if i % 2 else posterize(photo(name)),
            "mask": box_mask(),
            "style": "pixel-art",
            "target": posterize(photo(name)),
        }
        for i, name in enumerate(names)
    ]
    for batch_size in (1, 3, 8):
        rses = RSES(
            metrics="all", clip_backend=clip_backend, lpips_backend=lpips_backend, batch_size=batch_size
        )
        got = rses.score_batch(items)
        for row in got[1::2]:  # the identity edits
            assert (row["lpips_bg"], row["rsm_gain"], row["style_leakage"], row["mse_bg"]) == (
                0.0,
                0.0,
                0.0,
                0.0,
            )
            assert (row["rses"], row["rses_ref"], row["ref_gain"], row["pixel_consistency"]) == (
                0.0,
                0.0,
                0.0,
                1.0,
            )
        for row in got[::2]:  # edits equal to their target
            assert (row["lpips_in"], row["mse_in"], row["ref_gain"]) == (0.0, 0.0, 1.0)
            assert row["lpips_bg"] > 0 and row["rsm_gain"] != 0


class HostReads(torch.Tensor):
    """A tensor that counts the calls that copy device values to the host (``.item()``, ``float()``, ...)."""

    reads = 0
    _READS = {
        torch.Tensor.item,
        torch.Tensor.tolist,
        torch.Tensor.cpu,
        torch.Tensor.numpy,
        torch.Tensor.__float__,
        torch.Tensor.__int__,
        torch.Tensor.__bool__,
    }

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in cls._READS:
            HostReads.reads += 1
        return super().__torch_function__(func, types, args, kwargs or {})


class DeviceClip:
    """The smoke CLIP backend whose outputs are :class:`HostReads` (as if they lived on a GPU)."""

    def __init__(self, inner):
        self.inner, self.fill, self.key = inner, inner.fill, inner.key + "/device"
        self.preprocess = inner.preprocess

    def encode_images(self, images):
        return self.inner.encode_images(images).as_subclass(HostReads)

    def encode_texts(self, texts):
        return self.inner.encode_texts(texts).as_subclass(HostReads)


class DeviceLpips:
    def __init__(self, inner):
        self.inner = inner

    def features_unit(self, images):
        return [f.as_subclass(HostReads) for f in self.inner.features_unit(images)]

    def layer_maps(self, f0, f1):
        return self.inner.layer_maps(f0, f1)


def test_one_host_read_per_batch_on_the_device_path(clip_backend, lpips_backend, monkeypatch):
    """Every learned and pixel value of a batch comes back in one transfer, not one (or several) per sample."""

    def on_device(suite, array):  # the pixel path a CUDA device takes (torch tensors), run on the CPU
        return torch.as_tensor(array).as_subclass(HostReads)

    monkeypatch.setattr(suite_module.MetricSuite, "_pixel_array", on_device)
    items = [
        {
            "sample_id": f"s{i}",
            "source": photo(name),
            "edited": photo("coffee"),
            "mask": box_mask(),
            "style": "pixel-art",
            "target": posterize(photo(name)),
        }
        for i, name in enumerate(["astronaut", "chelsea", "rocket", "astronaut"])
    ]
    rses = RSES(
        metrics="all", clip_backend=DeviceClip(clip_backend), lpips_backend=DeviceLpips(lpips_backend)
    )
    HostReads.reads = 0
    got = rses.score_batch(items)
    assert HostReads.reads == 1
    ref = RSES(metrics="all", clip_backend=clip_backend, lpips_backend=lpips_backend).score_batch(items)
    for g, r in zip(got, ref, strict=True):  # the torch pixel path vs OpenCV: float64, ~1e-15
        assert g == pytest.approx(r, abs=1e-9, nan_ok=True)


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_torch_pixel_path_equals_the_opencv_path(name):
    """What runs on a GPU (torch, float64) equals the CPU's OpenCV path to float64 rounding.

    SSIM: the two box filters sum in different orders (~1e-16), and SSIM divides by variances as small as its
    constant C2 = 9e-4 after the cancellation in E[x^2] - E[x]^2, which amplifies that ~1e5 times: 1e-10.
    """
    src = np.moveaxis(photo(name, 37), -1, 0) / 255
    edt = np.moveaxis(posterize(photo(name, 37)), -1, 0) / 255
    src_t, edt_t = torch.from_numpy(src), torch.from_numpy(edt)
    np.testing.assert_allclose(ssim_map(src_t, edt_t).numpy(), ssim_map(src, edt), atol=1e-10, rtol=0)
    np.testing.assert_allclose(laplacian_torch(edt_t).numpy(), laplacian(edt), atol=1e-12, rtol=0)
    for pixels in (1, 3, 30):
        mask = box_mask(37, 2, 30, 5, 20)
        assert np.array_equal(erode_torch(torch.from_numpy(mask), pixels).numpy(), erode(mask, pixels))


def test_batch_size_follows_the_device_unless_given():
    assert RSES(metrics="pixel").config()["batch_size"] == 4
    assert RSES(metrics="pixel", device="cuda").config()["batch_size"] == 32
    assert RSES(metrics="pixel", device="cuda", batch_size=8).config()["batch_size"] == 8


def test_metric_dtype_is_opt_in_recorded_and_close_to_fp32():
    src, mask = photo(), box_mask()
    edt = np.where(mask[..., None], posterize(src), photo("coffee"))
    fp32 = RSES(metrics="all", smoke=True).score("a", src, edt, mask, "pixel-art")
    low = RSES(metrics="all", smoke=True, dtype="bf16")
    got = low.score("a", src, edt, mask, "pixel-art")
    assert low.config()["dtype"] == "bfloat16" and RSES(metrics="pixel").config()["dtype"] == "float32"
    # bf16 keeps 8 mantissa bits (relative rounding 2^-9 = 0.002 per op); a few layers: 0.05 on these values
    for name in ("lpips_bg", "rsm", "rsm_strict"):
        assert got[name] == pytest.approx(fp32[name], abs=0.05), name
    assert got["mse_bg"] == fp32["mse_bg"]  # pixel metrics stay float64 whatever the dtype
    with pytest.raises(UsageError, match="fp32, bf16, fp16"):
        RSES(metrics="all", dtype="fp8")
