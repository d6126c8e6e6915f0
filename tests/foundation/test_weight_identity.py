"""Weight identity: digests (and their cache), where a reference came from, and known-digest checks."""

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import rses.weight_identity as wi
from rses.errors import WeightsMismatchError
from rses.weight_identity import identify_weights, tensor_content_sha256
from rses.weights import WeightSpec

SHARED = Path(
    os.environ.get("RSES_TEST_LPIPS_WEIGHTS", "/nonexistent/alexnet-owt-7be5be79.safetensors")
).parent
ALEX = SHARED / "alexnet-owt-7be5be79.safetensors"
needs_trunk = pytest.mark.skipif(not ALEX.is_file(), reason="real AlexNet trunk not on this machine")
SPEC = WeightSpec(name="Demo", default="hf-hub:org/demo", env_var="RSES_DEMO_W", flag="--demo-w")
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RSES_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("RSES_DEMO_W", raising=False)
    monkeypatch.delenv("RSES_LPIPS_WEIGHTS", raising=False)


def st(data: bytes) -> bytes:
    """A valid (tensor-less) safetensors file whose bytes depend on ``data`` (checkpoints are checked by content)."""
    header = json.dumps({"__metadata__": {"data": data.hex()}}).encode()
    return len(header).to_bytes(8, "little") + header


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(st(data) if path.suffix == ".safetensors" else data)
    return path


def test_digest_and_origin_of_argument_env_and_default(tmp_path, monkeypatch):
    a, b = write(tmp_path / "a.safetensors", b"A"), write(tmp_path / "b.safetensors", b"B")
    spec = WeightSpec(name="Demo", default=f"file:{a}", env_var="RSES_DEMO_W")
    assert identify_weights(spec).origin == "default"
    monkeypatch.setenv("RSES_DEMO_W", str(b))
    ident = identify_weights(spec)
    assert (ident.origin, ident.reference) == ("env:RSES_DEMO_W", str(b))
    assert ident.files[0].sha256 == hashlib.sha256(st(b"B")).hexdigest()
    assert ident.files[0].size == len(st(b"B"))
    assert identify_weights(spec, str(a)).origin == "argument"


def test_key_follows_content_not_naming(tmp_path, monkeypatch):
    a = write(tmp_path / "x" / "w.safetensors", b"same")
    b = write(tmp_path / "y" / "w.safetensors", b"same")
    c = write(tmp_path / "z" / "w.safetensors", b"other")
    monkeypatch.setenv("RSES_DEMO_W", str(a))
    from_env = identify_weights(SPEC)
    assert identify_weights(SPEC, str(b)).key() == from_env.key() != identify_weights(SPEC, str(c)).key()


def test_digest_is_cached_on_path_size_mtime_inode(tmp_path, monkeypatch):
    path = write(tmp_path / "w.safetensors", b"x" * 1000)
    calls = []
    real = wi.sha256_file
    monkeypatch.setattr(wi, "sha256_file", lambda p: calls.append(p) or real(p))
    first = wi.file_sha256(path)
    assert wi.file_sha256(path) == first and len(calls) == 1  # second call: from the cache
    path.write_bytes(b"y" * 1000)  # same size, new content and mtime
    os.utime(path, ns=(1, 1))
    assert wi.file_sha256(path) == hashlib.sha256(b"y" * 1000).hexdigest() and len(calls) == 2


def test_torchvision_file_name_prefix_is_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("RSES_ALLOW_PICKLE", "1")  # a .pth is pickle: only reached after the opt-in
    good_data = b"torchvision weights"
    prefix = hashlib.sha256(good_data).hexdigest()[:8]
    good = write(tmp_path / f"alexnet-owt-{prefix}.pth", good_data)
    bad = write(tmp_path / "alexnet-owt-7be5be79.pth", b"something else")
    spec = WeightSpec(name="Trunk", default=f"file:{good}")
    assert identify_weights(spec, str(good)).check == f"verified: torchvision name {prefix}"
    with pytest.raises(WeightsMismatchError, match="7be5be79.*--skip-weight-check"):
        identify_weights(spec, str(bad))
    assert identify_weights(spec, str(bad), verify=False).check == "skipped"
    dated = write(tmp_path / "model-20240101.pth", b"a user's checkpoint")  # a date, not a digest
    assert identify_weights(spec, str(dated)).check == "no known digest"


def test_hub_file_is_checked_against_its_blob_etag(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    entry = cache / "models--org--demo"
    write(entry / "refs" / "main", COMMIT.encode())
    good = write(entry / "blobs" / hashlib.sha256(st(b"ok")).hexdigest(), st(b"ok"))
    snapshot = entry / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "model.safetensors").symlink_to(good)
    ident = identify_weights(SPEC)
    assert (ident.repo, ident.commit, ident.check) == ("org/demo", COMMIT, "verified: hub etag")
    good.write_bytes(st(b"tampered"))
    with pytest.raises(WeightsMismatchError, match="the hub's etag"):
        identify_weights(SPEC)


@needs_trunk
def test_random_alexnet_passed_as_lpips_weights_is_refused(tmp_path):
    from safetensors.numpy import load_file, save_file

    from rses.metrics.backends import lpips_weight_spec

    real = load_file(str(ALEX))
    rng = np.random.default_rng(0)
    fake = write(tmp_path / "alexnet-owt-7be5be79.safetensors", b"")
    save_file({k: rng.normal(0, 0.05, v.shape).astype(np.float32) for k, v in real.items()}, str(fake))
    spec = lpips_weight_spec("alex")
    with pytest.raises(WeightsMismatchError, match="LPIPS alex backbone.*tensor digest"):
        identify_weights(spec, str(fake))
    assert identify_weights(spec, str(ALEX)).check == "verified: known sha256"
    # the same tensors in another file (a user's own conversion) are recognised by content
    copy = tmp_path / "mine.safetensors"
    save_file({**real, "classifier.1.weight": np.zeros((2, 2), np.float32)}, str(copy))
    assert identify_weights(spec, str(copy)).check == "verified: known tensor content"
    assert tensor_content_sha256(copy, "features.") == tensor_content_sha256(ALEX, "features.")


@needs_trunk
def test_rses_score_refuses_random_lpips_weights_unless_skipped(tmp_path, capsys):
    from safetensors.numpy import load_file, save_file

    from rses.cli import main
    from rses.io import save_image, save_mask

    fake = tmp_path / "random.safetensors"
    real = load_file(str(ALEX))
    save_file(
        {k: np.random.default_rng(1).normal(0, 0.05, v.shape).astype(np.float32) for k, v in real.items()},
        str(fake),
    )
    image = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    mask = np.zeros((32, 32), bool)
    mask[8:24, 8:24] = True
    save_image(tmp_path / "s.png", image)
    save_mask(tmp_path / "m.png", mask)
    args = [
        "score",
        str(tmp_path / "s.png"),
        str(tmp_path / "s.png"),
        str(tmp_path / "m.png"),
        "--style",
        "pixel-art",
        "--metrics",
        "lpips_bg",
        "--lpips-weights",
        str(fake),
    ]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "not what they claim to be" in err and "Traceback" not in err
    out = tmp_path / "scores.json"
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--skip-weight-check", "--out", str(out)])
    assert exit_info.value.code in (0, None)
    import json

    payload = json.loads(out.read_text())
    assert payload["weight_check"] == "skipped"
    assert payload["models"][0]["files"][0]["sha256"] == hashlib.sha256(fake.read_bytes()).hexdigest()


def test_directory_identity_lists_every_file_with_size_and_digest(tmp_path):
    folder = tmp_path / "pipe"
    write(folder / "model_index.json", b"{}")
    write(folder / "unet" / "w.safetensors", b"123")
    write(folder / ".cache" / "junk", b"x")
    ident = identify_weights(SPEC, f"local-dir:{folder}")
    assert [(f.name, f.size) for f in ident.files] == [
        ("model_index.json", 2),
        ("unet/w.safetensors", len(st(b"123"))),
    ]
    shutil.rmtree(folder / ".cache")
    assert identify_weights(SPEC, f"local-dir:{folder}").key() == ident.key()
