"""Every missing weight of an invocation in one message, `rses weights`, and the LPIPS .pth lookup."""

import os
import re
import subprocess

import pytest
import torch

from rses.cli import main

ALEX = os.environ.get("RSES_TEST_LPIPS_WEIGHTS", "/nonexistent/alexnet-owt-7be5be79.safetensors")


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty Hugging Face cache and torch hub, no network, no weight variables."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("RSES_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("RSES_KONTEXT_WEIGHTS", "RSES_CLIP_WEIGHTS", "RSES_LPIPS_WEIGHTS", "RSES_ALLOW_PICKLE"):
        monkeypatch.delenv(name, raising=False)
    assert torch.hub.get_dir() == str(
        tmp_path / "torch" / "hub"
    )  # torchvision's download dir, from TORCH_HOME
    return tmp_path


def run(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_preflight_names_every_missing_weight_in_one_message(capsys, offline):
    out_dir = offline / "run"
    code, _, err = run(
        capsys, "eval", "--method", "kontext", "--metrics", "all", "--device", "cpu", "--out", str(out_dir)
    )
    assert code == 1
    assert len(err.strip().splitlines()) == 1  # one line
    assert "FLUX.1-Kontext-dev" in err and "CLIP" in err and "LPIPS" in err
    assert "3 weights" in err
    assert "gated" in err and "hf auth login" in err
    assert not out_dir.exists()


def test_preflight_with_one_missing_weight_keeps_the_plain_message(capsys, offline):
    code, _, err = run(
        capsys,
        "eval",
        "--method",
        "identity",
        "--metrics",
        "lpips",
        "--device",
        "cpu",
        "--out",
        str(offline / "run"),
    )
    assert code == 1
    assert err.startswith("error: Weights for LPIPS alex backbone") and "weights are missing" not in err


def test_weights_command_lists_each_weight_where_it_looks_and_how_to_fetch_it(capsys, offline):
    code, out, _ = run(capsys, "weights", "--method", "kontext", "--metrics", "all")
    assert code == 1  # something is missing
    flat = " ".join(out.split())
    for needed in ("FLUX.1-Kontext-dev", "CLIP ViT-B-32 (openai)", "LPIPS alex backbone"):
        assert needed in flat
    assert flat.count("missing") >= 3
    assert "hf download black-forest-labs/FLUX.1-Kontext-dev" in flat
    assert "gated" in flat and "hf auth login" in flat
    assert "hf download timm/vit_base_patch32_clip_224.openai open_clip_model.safetensors" in flat
    assert "torchvision.models.alexnet" in flat
    assert str(offline / "hf") in flat  # where it looks
    assert "RSES_LPIPS_WEIGHTS" in flat and "--lpips-weights" in flat


@pytest.mark.skipif(not os.path.isfile(ALEX), reason="set RSES_TEST_LPIPS_WEIGHTS to the real AlexNet trunk")
def test_weights_command_reports_found_weights_and_whether_they_were_checked(capsys, offline):
    code, out, _ = run(
        capsys, "weights", "--method", "identity", "--metrics", "lpips", "--lpips-weights", ALEX
    )
    assert code == 0
    flat = " ".join(out.split())
    assert "found" in flat and ALEX in flat
    assert "verified: known sha256" in flat  # the check `rses eval` applies


def test_weights_command_for_weight_free_methods_says_nothing_is_needed(capsys, offline):
    code, out, _ = run(capsys, "weights", "--method", "paste-style", "--metrics", "pixel")
    assert code == 0 and "needs no weights" in out


def test_lpips_default_lookup_finds_torchvisions_pth_and_the_message_converts_it(offline):
    from rses.errors import UnsafeWeightsError
    from rses.metrics.backends import resolve_lpips_backbone

    checkpoints = offline / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    state = {"features.0.weight": torch.randn(4, 3, 3, 3), "features.0.bias": torch.randn(4)}
    pth = checkpoints / "alexnet-owt-7be5be79.pth"
    torch.save(state, pth)
    with pytest.raises(UnsafeWeightsError) as info:
        resolve_lpips_backbone("alex")
    message = str(info.value)
    assert str(pth) in message and "--allow-pickle" in message
    assert "torchvision" in message  # says why this file: it is what torchvision downloads
    command = re.search(r"`(python -c .*?)`", message).group(1)
    subprocess.run(command, shell=True, check=True, cwd=offline)
    converted = checkpoints / "alexnet-owt-7be5be79.safetensors"
    from safetensors.torch import load_file

    assert {k: torch.equal(v, state[k]) for k, v in load_file(str(converted)).items()} == dict.fromkeys(
        state, True
    )
    assert resolve_lpips_backbone("alex") == converted  # now the default lookup takes the safetensors file
    assert resolve_lpips_backbone("alex", str(pth), allow_pickle=True) == pth


def test_allow_pickle_reaches_the_editor_weights_too(capsys, offline):
    import os

    folder = offline / "kontext-pickle"
    (folder / "transformer").mkdir(parents=True)
    (folder / "model_index.json").write_text("{}")
    torch.save({"w": torch.zeros(1)}, folder / "transformer" / "diffusion_pytorch_model.bin")
    args = ["weights", "--method", "kontext", "--metrics", "pixel", "--weights", str(folder)]
    code, out, _ = run(capsys, *args)
    assert code == 1 and "refused" in out and "--allow-pickle" in " ".join(out.split())
    code, out, _ = run(capsys, *args, "--allow-pickle")
    assert code == 0 and "found" in out
    assert "RSES_ALLOW_PICKLE" not in os.environ  # the opt-in lasts only for the command
