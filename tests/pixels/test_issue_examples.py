"""The examples of issue 14, each on the Python API and on the CLI, with expected values computed by hand."""

import json
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from rses.cli import main
from rses.data.manifest import read_manifest, sample_record, write_manifest
from rses.errors import InvalidSampleError
from rses.io import load_image, load_mask, save_image, save_mask
from rses.metrics import RSES

RNG = np.random.default_rng(14)
ALEX = os.environ.get("RSES_TEST_LPIPS_WEIGHTS", "/nonexistent/alexnet-owt-7be5be79.safetensors")
VGG = os.environ.get("RSES_TEST_LPIPS_VGG_WEIGHTS", "/nonexistent/vgg16-397923af.safetensors")
# the real trunks (shared/weights, set by .ci/run): without them these tests skip, never fall back
needs_alex = pytest.mark.skipif(
    not os.path.isfile(ALEX), reason="set RSES_TEST_LPIPS_WEIGHTS to the real AlexNet trunk"
)
needs_vgg = pytest.mark.skipif(
    not os.path.isfile(VGG), reason="set RSES_TEST_LPIPS_VGG_WEIGHTS to the real VGG16 trunk"
)


def cli(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return exit_info.value.code, out.out + out.err


def score_cli(tmp_path, capsys, src, edt, msk, *extra):
    code, out = cli(
        ["score", src, edt, msk, "--style", "pixel-art", "--out", tmp_path / "s.json", *extra], capsys
    )
    assert code == 0, out
    return json.loads((tmp_path / "s.json").read_text())["summary"]


# -- bit depth: a dark 16-bit grey PNG (max 239) whose edit changes only the object -------------------------------
def dark_16bit_pair(tmp_path):
    source = RNG.integers(0, 240, (32, 32), dtype=np.uint16)
    mask = np.zeros((32, 32), bool)
    mask[8:20, 8:20] = True
    edited = np.where(mask, 60000, source).astype(np.uint16)  # only the object changes (and gets bright)
    cv2.imwrite(str(tmp_path / "src.png"), source)
    cv2.imwrite(str(tmp_path / "edt.png"), edited)
    save_mask(tmp_path / "mask.png", mask)
    return tmp_path / "src.png", tmp_path / "edt.png", tmp_path / "mask.png"


def test_dark_16bit_source_with_object_only_edit_has_an_exact_background(tmp_path, capsys):
    src, edt, msk = dark_16bit_pair(tmp_path)
    got = RSES(metrics=["mse_bg", "psnr_bg"]).score(
        "dark", load_image(src), load_image(edt), load_mask(msk), "x"
    )
    assert got == {
        "mse_bg": 0.0,
        "psnr_bg": 100.0,
    }  # was 0.31 and 5 dB: the two files were scaled differently
    assert score_cli(tmp_path, capsys, src, edt, msk, "--metrics", "mse_bg,psnr_bg") == got


def test_uint16_arrays_are_quantised_like_16bit_files(tmp_path):
    src, edt, msk = dark_16bit_pair(tmp_path)
    source, edited = (cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in (src, edt))
    rgb = [np.repeat(a[..., None], 3, axis=2) for a in (source, edited)]
    suite = RSES(metrics=["mse_bg", "psnr_bg", "ssim_bg"])
    assert suite.score("a", *rgb, load_mask(msk), "x") == suite.score(
        "f", load_image(src), load_image(edt), load_mask(msk), "x"
    )


# -- soft masks: a 32x32 uint16 ramp matte, damage in the background columns ---------------------------------------
MATTE = np.tile(np.round(np.arange(32) * 65535 / 31), (32, 1)).astype(np.uint16)  # column j: j * 65535 / 31
SOURCE = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)
EDITED = SOURCE.copy()
EDITED[:, 2:6] = 255 - SOURCE[:, 2:6]  # damage in columns 2-5, background at threshold 0.5
BACKGROUND = MATTE.astype(np.float64) / 65535 <= 0.5  # columns 0-15 (15: 0.484, 16: 0.516)
EXPECTED_MSE = float((((EDITED / 255.0) - (SOURCE / 255.0)) ** 2)[BACKGROUND].mean())


def test_uint16_matte_threshold_cuts_on_its_own_range_python_api():
    assert BACKGROUND[:, :16].all() and not BACKGROUND[:, 16:].any()
    suite = RSES(metrics=["mse_bg"], mask_threshold=0.5)
    as_uint16 = suite.score("ramp", SOURCE, EDITED, MATTE, "x")["mse_bg"]  # was 0.0: cut at 127.5 of 65535
    as_float = suite.score("ramp", SOURCE, EDITED, MATTE / 65535.0, "x")["mse_bg"]
    assert as_uint16 == pytest.approx(EXPECTED_MSE, rel=1e-6) and as_float == pytest.approx(
        EXPECTED_MSE, rel=1e-6
    )


def test_uint16_matte_file_threshold_on_the_cli(tmp_path, capsys):
    save_image(tmp_path / "src.png", SOURCE)
    save_image(tmp_path / "edt.png", EDITED)
    cv2.imwrite(str(tmp_path / "matte.png"), MATTE)
    np.testing.assert_array_equal(load_mask(tmp_path / "matte.png", 0.5), ~BACKGROUND)
    summary = score_cli(
        tmp_path,
        capsys,
        tmp_path / "src.png",
        tmp_path / "edt.png",
        tmp_path / "matte.png",
        "--metrics",
        "mse_bg",
        "--mask-threshold",
        "0.5",
    )
    assert summary["mse_bg"] == pytest.approx(EXPECTED_MSE, rel=1e-6)


# -- orientation: a 40x60 JPEG tagged "rotate 90" displays as 60x40 ----------------------------------------------
def rotated_split(tmp_path, mask_shape):
    (tmp_path / "images").mkdir(parents=True)
    img = Image.fromarray(RNG.integers(0, 256, (60, 40, 3), dtype=np.uint8))  # stored: 40 wide, 60 high
    exif = img.getexif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise: 60 wide, 40 high
    img.save(tmp_path / "images" / "r.jpg", exif=exif)
    mask = np.zeros(mask_shape, bool)
    mask[10:30, 10:30] = True
    save_mask(tmp_path / "masks" / "r.png", mask)
    record = sample_record(
        tmp_path,
        "r-pixel-art",
        tmp_path / "images" / "r.jpg",
        tmp_path / "masks" / "r.png",
        "box",
        "pixel-art",
    )
    return write_manifest(tmp_path / "split.jsonl", [record])


def test_manifest_compares_mask_and_source_in_the_displayed_frame(tmp_path):
    good = rotated_split(tmp_path / "good", (40, 60))  # (H, W) of the displayed image
    sample = read_manifest(good).samples[0]
    assert sample.load_source().shape == (40, 60, 3) and sample.load_mask().shape == (40, 60)
    bad = rotated_split(tmp_path / "bad", (60, 40))  # the stored frame: would fail at scoring
    with pytest.raises(InvalidSampleError, match="mask is 40x60 but the source is 60x40"):
        read_manifest(bad)


def test_rses_eval_on_rotated_manifest(tmp_path, capsys):
    good = rotated_split(tmp_path / "good", (40, 60))
    code, out = cli(
        [
            "eval",
            "--method",
            "identity",
            "--split",
            good,
            "--out",
            tmp_path / "run",
            "--metrics",
            "pixel",
            "--no-progress",
        ],
        capsys,
    )
    assert code == 0, out
    bad = rotated_split(tmp_path / "bad", (60, 40))
    code, out = cli(
        [
            "eval",
            "--method",
            "identity",
            "--split",
            bad,
            "--out",
            tmp_path / "run2",
            "--metrics",
            "pixel",
            "--no-progress",
        ],
        capsys,
    )
    assert code == 1 and "mask is 40x60 but the source is 60x40" in out and "Traceback" not in out


# -- too small to score: LPIPS' real trunks need 31 (AlexNet) / 16 (VGG16) px per side -----------------------------
@pytest.mark.parametrize(
    ("net", "weights", "minimum"),
    [pytest.param("alex", ALEX, 31, marks=needs_alex), pytest.param("vgg", VGG, 16, marks=needs_vgg)],
)
def test_images_below_the_lpips_minimum_get_an_error_naming_sample_and_size(net, weights, minimum):
    suite = RSES(metrics=["lpips_bg"], lpips_net=net, lpips_weights=weights)
    for shape in ((minimum - 1, 48), (48, minimum - 1)):
        img = RNG.integers(0, 256, (*shape, 3), dtype=np.uint8)
        mask = np.zeros(shape, bool)
        mask[:4, :4] = True
        with pytest.raises(InvalidSampleError, match=rf"Sample tiny-{net}: .* needs at least {minimum} px"):
            suite.score(f"tiny-{net}", img, img, mask, "x")
    img = RNG.integers(0, 256, (minimum, minimum, 3), dtype=np.uint8)
    mask = np.zeros((minimum, minimum), bool)
    mask[:4, :4] = True
    assert suite.score("ok", img, img, mask, "x")["lpips_bg"] == 0.0  # the minimum itself scores


@needs_alex
@needs_vgg
def test_real_trunks_fail_below_the_minimum_so_the_table_is_right():
    import torch

    from rses.metrics.backends import load_lpips
    from rses.metrics.inputs import LPIPS_MIN_SIDE

    for net, weights in (("alex", ALEX), ("vgg", VGG)):
        backend, side = load_lpips(net, weights), LPIPS_MIN_SIDE[net]
        backend.features(torch.zeros(1, 3, side, side))
        with pytest.raises(RuntimeError):
            backend.features(torch.zeros(1, 3, side - 1, 64))


@needs_alex
def test_too_small_on_the_cli_is_one_line(tmp_path, capsys):
    img = RNG.integers(0, 256, (30, 30, 3), dtype=np.uint8)
    mask = np.zeros((30, 30), bool)
    mask[:8, :8] = True
    save_image(tmp_path / "s.png", img)
    save_mask(tmp_path / "m.png", mask)
    code, out = cli(
        [
            "score",
            tmp_path / "s.png",
            tmp_path / "s.png",
            tmp_path / "m.png",
            "--style",
            "x",
            "--metrics",
            "lpips_bg",
            "--lpips-weights",
            ALEX,
        ],
        capsys,
    )
    assert code == 1 and "Traceback" not in out
    assert "Sample s: the image is 30x30 (H x W), smaller than LPIPS (alex) can score" in " ".join(
        out.split()
    )


def test_clip_metrics_have_no_minimum_size():
    img = RNG.integers(0, 256, (3, 2, 3), dtype=np.uint8)
    mask = np.array([[True, False], [False, False], [False, False]])
    suite = RSES(metrics=["rsm", "rsm_strict", "rsm_gain", "style_leakage"], smoke=True)
    values = suite.score("speck", img, img, mask, "pixel-art")
    assert all(np.isfinite(v) for v in values.values())
