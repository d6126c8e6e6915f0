"""The diffusers editors (kontext, instructpix2pix, inpaint) on the test kit's tiny pipelines."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from baselines.diffusion import SMOKE_OVERRIDES, target_size
from rses.editing import EDITORS, EditRequest, get_editor
from rses.errors import InvalidSampleError, UsageError, WeightsNotFoundError

NAMES = ("kontext", "instructpix2pix", "inpaint")
HUB_IDS = {
    "kontext": "black-forest-labs/FLUX.1-Kontext-dev",
    "instructpix2pix": "timbrooks/instruct-pix2pix",
    "inpaint": "stabilityai/stable-diffusion-2-inpainting",
}
ENV_VARS = {
    "kontext": "RSES_KONTEXT_WEIGHTS",
    "instructpix2pix": "RSES_INSTRUCTPIX2PIX_WEIGHTS",
    "inpaint": "RSES_INPAINT_WEIGHTS",
}
BUILDERS = {
    "kontext": "tiny_kontext_pipeline",
    "instructpix2pix": "tiny_instruct_pix2pix_pipeline",
    "inpaint": "tiny_inpaint_pipeline",
}

RNG = np.random.default_rng(0)
SQUARE = RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)
WIDE = RNG.integers(0, 256, (48, 80, 3), dtype=np.uint8)


def _request(image, seed, sample_id="s"):
    mask = np.zeros(image.shape[:2], bool)
    mask[8:40, 16:48] = True
    return EditRequest(
        sample_id,
        image,
        mask,
        "make the cat in pixel-art style, keep other area unchanged",
        "pixel-art",
        "cat",
        seed=seed,
    )


def _small(name, **fields):
    return dataclasses.replace(EDITORS.get(name).Config(), **{**SMOKE_OVERRIDES, **fields})


@pytest.fixture(scope="module", params=NAMES)
def smoke(request):
    """A smoke editor and its outputs for three requests (two sizes, two seeds), edited one at a time."""
    editor = get_editor(request.param, smoke=True)
    requests = [_request(SQUARE, 1, "a"), _request(WIDE, 2, "b"), _request(SQUARE, 3, "c")]
    return editor, requests, [editor.edit([r])[0] for r in requests]


def test_smoke_edit_returns_uint8_rgb_at_input_size(smoke):
    _, requests, outputs = smoke
    for request, out in zip(requests, outputs, strict=True):
        assert out.dtype == np.uint8 and out.shape == request.image.shape
        assert out.std() > 1.0  # a real pipeline ran (not a constant or an empty image)


def test_same_seed_same_output_and_seed_matters(smoke):
    editor, requests, outputs = smoke
    np.testing.assert_array_equal(editor.edit([requests[0]])[0], outputs[0])
    other = editor.edit([dataclasses.replace(requests[0], seed=99)])[0]
    assert np.abs(other.astype(int) - outputs[0]).max() > 0


def test_batch_equals_single_requests(smoke):
    editor, requests, outputs = smoke
    batch = editor.edit(requests)
    assert len(batch) == 3
    for single, batched in zip(outputs, batch, strict=True):
        assert np.abs(single.astype(int) - batched).max() <= 1  # float32 batched matmul may flip a rounding


def test_smoke_needs_no_weights_and_uses_small_defaults(smoke):
    editor, _, _ = smoke
    assert editor.weights() == []
    editor.check_weights()
    assert editor.config.resolution == 64 and editor.config.num_inference_steps == 2


@pytest.mark.parametrize("name", NAMES)
def test_missing_weights_name_the_model_and_how_to_provide_them(name):
    editor = get_editor(name)
    assert [spec.default for spec in editor.weights()] == [HUB_IDS[name]]
    with pytest.raises(WeightsNotFoundError) as info:
        editor.check_weights()
    message = str(info.value)
    for expected in (
        HUB_IDS[name],
        f"hf download {HUB_IDS[name]}",
        ENV_VARS[name],
        "--weights",
        "HF_HUB_OFFLINE",
    ):
        assert expected in message


@pytest.mark.parametrize("name", NAMES)
def test_weights_path_that_does_not_exist_is_reported(name, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VARS[name], str(tmp_path / "nowhere"))
    with pytest.raises(WeightsNotFoundError, match="nowhere.*does not exist"):
        get_editor(name).check_weights()


def test_qwen_image_edit_missing_weights():
    editor = get_editor("qwen-image-edit")
    assert editor.config.resolution == 1024 and not editor.sees_mask
    with pytest.raises(WeightsNotFoundError, match="Qwen/Qwen-Image-Edit.*RSES_QWEN_IMAGE_EDIT_WEIGHTS"):
        editor.check_weights()


def test_qwen_image_edit_output_grid_is_its_input_grid():
    """The pipeline resizes its input to ``calculate_dimensions(1024**2, w / h)``; the output must be asked at
    that size, else the edit is resampled onto another grid and background pixels move (the old adapter asked
    for a 16-multiple size of ``resolution``). Tiny twin, one 2-step call: ~9 s of CPU."""
    from diffusers.pipelines.qwenimage.pipeline_qwenimage_edit import calculate_dimensions

    from baselines.qwen_image_edit import qwen_working_size

    for height, width in ((480, 640), (170, 256), (1000, 90), (333, 333), (2000, 3001)):
        h, w = qwen_working_size(height, width)
        assert calculate_dimensions(1024 * 1024, w / h)[:2] == (w, h) and h % 32 == w % 32 == 0
    editor = get_editor("qwen-image-edit", smoke=True)
    pipe = editor.load_pipeline()
    seen = {}
    encode, decode = pipe.vae.encode, pipe.vae.decode
    pipe.vae.encode = lambda x, *a, **k: seen.setdefault("in", tuple(x.shape[-2:])) and encode(x, *a, **k)

    def recording_decode(z, *args, **kwargs):
        out = decode(z, *args, **kwargs)
        seen["out"] = tuple((out[0] if isinstance(out, tuple) else out.sample).shape[-2:])
        return out

    pipe.vae.decode = recording_decode
    image = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    out = editor.edit([EditRequest("s", image, None, "make the cat blue", "blue", "cat", seed=0)])[0]
    assert out.shape == image.shape
    assert seen["in"] == seen["out"] == qwen_working_size(480, 640) == (896, 1184)


def test_folder_that_is_not_a_pipeline_is_reported(tmp_path):
    editor = get_editor("kontext", config=_small("kontext", weights=str(tmp_path)))
    with pytest.raises(WeightsNotFoundError, match="not a diffusers pipeline folder.*RSES_KONTEXT_WEIGHTS"):
        editor.check_weights()


@pytest.mark.parametrize("via", ["env", "config"])
@pytest.mark.parametrize("name", NAMES)
def test_real_loading_path_on_a_saved_tiny_pipeline(name, via, monkeypatch, tmp_path):
    import rses.testing

    getattr(rses.testing, BUILDERS[name])(seed=0, save_dir=tmp_path)
    if via == "env":
        monkeypatch.setenv(ENV_VARS[name], str(tmp_path))
        config = _small(name)
    else:
        config = _small(name, weights=f"local-dir:{tmp_path}")
    editor = get_editor(name, config=config)
    editor.check_weights()
    request = _request(WIDE, 2)
    loaded = editor.edit([request])[0]
    smoke = get_editor(name, smoke=True).edit([request])[0]
    # same weights, but the reloaded pipeline may run other kernels: float32 rounding (~1e-6) may flip a
    # uint8 rounding, never by more than one level
    assert np.abs(loaded.astype(int) - smoke).max() <= 1


@pytest.mark.parametrize("name", NAMES)
def test_runs_end_to_end_through_the_runner(name, tmp_path):
    from rses.runner import RunConfig, run_eval

    result = run_eval(
        RunConfig(method=name, split="test", out=tmp_path / "run", smoke=True, limit=1, metrics="pixel"),
        progress=False,
    )
    rows = pd.read_csv(tmp_path / "run" / "samples.csv")
    assert (result.n_ok, result.n_failed) == (1, 0) and list(rows["status"]) == ["ok"]


def test_prompts_follow_each_editors_template():
    request = _request(SQUARE, 0)
    assert get_editor("kontext").build_prompt(request) == request.prompt
    assert get_editor("instructpix2pix").build_prompt(request) == request.prompt
    assert get_editor("inpaint").build_prompt(request) == "a cat in pixel-art style"


def test_only_inpaint_sees_the_mask_and_it_requires_one():
    assert [EDITORS.get(n).sees_mask for n in NAMES] == [False, False, True]
    with pytest.raises(InvalidSampleError, match="'s'.*needs the object mask"):
        get_editor("inpaint", smoke=True).edit([dataclasses.replace(_request(SQUARE, 0), mask=None)])


def test_paper_defaults():
    kontext = get_editor("kontext").config
    assert (kontext.resolution, kontext.num_inference_steps, kontext.guidance_scale) == (1024, 28, 3.5)
    assert get_editor("instructpix2pix").config.image_guidance_scale == 1.5


@pytest.mark.parametrize(
    ("fields", "device", "match"),
    [
        ({"dtype": "fp8"}, "cpu", "dtype must be one of"),
        ({"offload": "model"}, "cpu", "needs a GPU device"),
        ({"offload": "disk"}, "cuda", "offload must be one of"),
        ({"prompt_template": "{prompt} {colour}"}, "cpu", "unknown field 'colour'"),
        ({"resolution": 8}, "cpu", "resolution must be >= 16"),
    ],
)
def test_bad_config_is_refused_at_construction(fields, device, match):
    with pytest.raises(UsageError, match=match):
        get_editor("kontext", config=_small("kontext", **fields), device=device)


def test_target_size_keeps_aspect_and_multiples_of_16():
    assert target_size(480, 640, 1024) == (880, 1184)
    assert target_size(1024, 1024, 1024) == (1024, 1024)
    assert target_size(10, 1000, 64) == (16, 640)
