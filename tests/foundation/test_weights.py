"""Every branch of the weight resolver, including the missing-weights message."""

import pytest

from rses.errors import UnsafeWeightsError, WeightsNotFoundError
from rses.weights import WeightSpec, hub_cache_dir, parse_reference, resolve_weights, sha256_file

#: A valid safetensors file with no tensors: header length 2, header ``{}``.
EMPTY_SAFETENSORS = b"\x02\x00\x00\x00\x00\x00\x00\x00{}"
SPEC = WeightSpec(
    name="Demo CLIP", default="hf-hub:org/demo", env_var="RSES_DEMO_WEIGHTS", flag="--demo-weights"
)
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def fake_hub_cache(root, repo="org/demo", files=("model.safetensors",)):
    """Lay out a Hugging Face cache entry the way huggingface_hub writes it."""
    entry = root / f"models--{repo.replace('/', '--')}"
    (entry / "refs").mkdir(parents=True)
    (entry / "refs" / "main").write_text(COMMIT)
    snapshot = entry / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    for name in files:
        (snapshot / name).write_bytes(EMPTY_SAFETENSORS)
    return snapshot


@pytest.fixture
def hub(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("RSES_DEMO_WEIGHTS", raising=False)
    monkeypatch.delenv("RSES_ALLOW_PICKLE", raising=False)
    return cache


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("hf-hub:org/repo", ("hub", "org/repo", None)),
        ("org/repo@v2", ("hub", "org/repo", "v2")),
        ("local-dir:/models/x", ("local", "/models/x", None)),
        ("file:/models/x.safetensors", ("local", "/models/x.safetensors", None)),
        ("./relative/dir", ("local", "./relative/dir", None)),
        ("/abs/dir", ("local", "/abs/dir", None)),
    ],
)
def test_parse_reference(ref, expected):
    assert parse_reference(ref) == expected


def test_default_revision_applies_only_when_reference_names_none():
    assert parse_reference("org/repo", "rev1") == ("hub", "org/repo", "rev1")
    assert parse_reference("org/repo@rev2", "rev1") == ("hub", "org/repo", "rev2")


def test_local_directory_resolves_to_itself(hub, tmp_path):
    assert resolve_weights(SPEC, f"local-dir:{tmp_path}") == tmp_path
    assert resolve_weights(SPEC, str(tmp_path)) == tmp_path


def test_env_var_overrides_default_and_explicit_ref_overrides_env(hub, tmp_path, monkeypatch):
    env_dir, flag_dir = tmp_path / "env", tmp_path / "flag"
    env_dir.mkdir()
    flag_dir.mkdir()
    monkeypatch.setenv("RSES_DEMO_WEIGHTS", str(env_dir))
    assert resolve_weights(SPEC) == env_dir
    assert resolve_weights(SPEC, str(flag_dir)) == flag_dir


def test_missing_local_path_names_model_path_flag_and_env(hub, tmp_path):
    with pytest.raises(WeightsNotFoundError) as err:
        resolve_weights(SPEC, str(tmp_path / "nowhere"))
    message = str(err.value)
    for part in (
        "Demo CLIP",
        str(tmp_path / "nowhere"),
        "--demo-weights PATH",
        "RSES_DEMO_WEIGHTS=PATH",
        "hf download org/demo",
    ):
        assert part in message


def test_hub_snapshot_found_in_cache_offline(hub):
    snapshot = fake_hub_cache(hub)
    assert resolve_weights(SPEC) == snapshot


def test_hub_single_file_found_in_cache_offline(hub):
    snapshot = fake_hub_cache(hub, files=("open_clip_model.safetensors",))
    spec = WeightSpec(name="Demo", default="org/demo", filename="open_clip_model.safetensors")
    assert resolve_weights(spec) == snapshot / "open_clip_model.safetensors"


def test_hub_missing_offline_gives_one_clear_message(hub):
    with pytest.raises(WeightsNotFoundError) as err:
        resolve_weights(SPEC)
    message = str(err.value)
    assert message.startswith("Weights for Demo CLIP not found.")
    for part in (
        "hf-hub:org/demo (revision main)",
        str(hub),
        "HF_HUB_OFFLINE is set",
        "`hf download org/demo`",
        "--demo-weights PATH or RSES_DEMO_WEIGHTS=PATH",
    ):
        assert part in message


def test_hub_missing_file_names_file_and_revision(hub):
    spec = WeightSpec(name="Demo", default="org/demo", filename="w.safetensors", revision="v1")
    with pytest.raises(WeightsNotFoundError, match=r"hf download org/demo w.safetensors --revision v1"):
        resolve_weights(spec)


def test_missing_file_with_a_local_default_says_where_to_put_it_not_hf_download(hub, tmp_path):
    default = tmp_path / "checkpoints" / "trunk.safetensors"
    spec = WeightSpec(name="Trunk", default=f"file:{default}", env_var="RSES_TRUNK", flag="--trunk")
    with pytest.raises(WeightsNotFoundError) as err:
        resolve_weights(spec)
    assert str(err.value) == (
        f"Weights for Trunk not found. Looked in: local path {default} (does not exist). To provide them: "
        f"put them at {default}, or point rses at a local copy with --trunk PATH or RSES_TRUNK=PATH."
    )


@pytest.fixture
def online_hub(hub, monkeypatch):
    """The hub fixture with HF_HUB_OFFLINE unset and ``hf_hub_download`` recording its ``local_files_only``."""
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE")
    calls, download = [], huggingface_hub.hf_hub_download

    def recording_download(*args, **kwargs):
        calls.append(kwargs["local_files_only"])
        return download(*args, **kwargs)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", recording_download)
    return hub, calls


def _no_answer(*args, **kwargs):
    raise ConnectionError("no route to huggingface.co")


FILE_SPEC = WeightSpec(name="Demo", default="org/demo", filename="open_clip_model.safetensors")


def test_unreachable_hub_takes_a_cached_file_without_retrying(online_hub, monkeypatch):
    import huggingface_hub

    hub, calls = online_hub
    snapshot = fake_hub_cache(hub, files=("open_clip_model.safetensors",))
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", _no_answer)
    assert resolve_weights(FILE_SPEC) == snapshot / "open_clip_model.safetensors"
    assert calls == [True]  # straight to the cache: no ~25 s of retries inside huggingface_hub


def test_unreachable_hub_without_the_file_fails_at_once_and_says_so(online_hub, monkeypatch):
    import huggingface_hub

    _, calls = online_hub
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", _no_answer)
    with pytest.raises(WeightsNotFoundError, match="the hub could not be reached") as err:
        resolve_weights(FILE_SPEC)
    assert "HF_HUB_OFFLINE" not in str(err.value)
    assert calls == [True]


def test_reachable_hub_lets_huggingface_hub_check_for_updates(online_hub, monkeypatch):
    import huggingface_hub

    hub, calls = online_hub
    fake_hub_cache(hub, files=("open_clip_model.safetensors",))
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", lambda url: None)
    monkeypatch.setattr(
        huggingface_hub, "hf_hub_download", lambda *a, **k: calls.append(k["local_files_only"]) or "x"
    )
    resolve_weights(FILE_SPEC)
    assert calls == [False]


def test_hub_cache_dir_honours_hf_home(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    assert hub_cache_dir() == tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    assert hub_cache_dir() == tmp_path / "elsewhere"


@pytest.mark.parametrize("suffix", [".bin", ".pt", ".pth", ".ckpt"])
def test_pickle_checkpoint_refused_unless_opted_in(hub, tmp_path, monkeypatch, suffix):
    ckpt = tmp_path / f"model{suffix}"
    ckpt.write_bytes(b"pickle")
    with pytest.raises(UnsafeWeightsError, match="--allow-pickle / RSES_ALLOW_PICKLE=1"):
        resolve_weights(SPEC, str(ckpt))
    assert resolve_weights(SPEC, str(ckpt), allow_pickle=True) == ckpt
    monkeypatch.setenv("RSES_ALLOW_PICKLE", "1")
    assert resolve_weights(SPEC, str(ckpt)) == ckpt


def test_sha256_is_checked_for_single_files(hub, tmp_path):
    ckpt = tmp_path / "model.safetensors"
    ckpt.write_bytes(EMPTY_SAFETENSORS)
    good = WeightSpec(name="Demo", default="org/demo", sha256=sha256_file(ckpt))
    assert resolve_weights(good, str(ckpt)) == ckpt
    bad = WeightSpec(name="Demo", default="org/demo", sha256="0" * 64)
    with pytest.raises(WeightsNotFoundError, match="expected 0000"):
        resolve_weights(bad, str(ckpt))


def test_folder_with_only_pickle_weights_is_refused_before_loading(hub, tmp_path, monkeypatch):
    pipeline = tmp_path / "pipeline"
    (pipeline / "unet").mkdir(parents=True)
    (pipeline / "vae").mkdir()
    (pipeline / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"pickle")
    (pipeline / "vae" / "diffusion_pytorch_model.safetensors").write_bytes(EMPTY_SAFETENSORS)
    with pytest.raises(UnsafeWeightsError, match=r"pickle checkpoint\(s\) in .*unet"):
        resolve_weights(SPEC, str(pipeline))
    (pipeline / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(EMPTY_SAFETENSORS)
    assert resolve_weights(SPEC, str(pipeline)) == pipeline  # safetensors beside it: that is what loads
    monkeypatch.setenv("RSES_ALLOW_PICKLE", "1")
    (pipeline / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    assert resolve_weights(SPEC, str(pipeline)) == pipeline
