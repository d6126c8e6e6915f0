"""Weight loading: user files go through the same code path as real weights; nothing random without smoke."""

import numpy as np
import pytest
import torch
from metrics_kit import box_mask, photo
from safetensors.torch import save_file

from rses.errors import UnsafeWeightsError, WeightsNotFoundError
from rses.metrics import RSES
from rses.metrics.backends import build_lpips, load_clip, load_lpips
from rses.testing import tiny_open_clip
from rses.testing.clip import TINY_CLIP_NAME
from rses.testing.lpips import tiny_lpips


def test_missing_weights_raise_with_flag_and_env_named(monkeypatch, tmp_path):
    monkeypatch.delenv("RSES_CLIP_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    rses = RSES(metrics="all")
    assert [s.default for s in rses.weights()][0] == "hf-hub:timm/vit_base_patch32_clip_224.openai"
    with pytest.raises(WeightsNotFoundError, match="--clip-weights PATH or RSES_CLIP_WEIGHTS"):
        rses.check_weights()
    with pytest.raises(WeightsNotFoundError, match="alexnet-owt-7be5be79.*--lpips-weights"):
        RSES(metrics="lpips").check_weights()
    with pytest.raises(WeightsNotFoundError):
        RSES(metrics=["rsm"]).score("a", photo(), photo(), box_mask(), "x")


def test_clip_checkpoint_file_and_directory_load_through_user_path(tmp_path, monkeypatch):
    tiny = tiny_open_clip(seed=3)
    save_file(tiny.model.state_dict(), tmp_path / "open_clip_model.safetensors")
    for ref in (str(tmp_path / "open_clip_model.safetensors"), str(tmp_path)):
        backend = load_clip(TINY_CLIP_NAME, "openai", ref)
        for a, b in zip(backend.model.state_dict().values(), tiny.model.state_dict().values(), strict=True):
            assert torch.equal(a, b)
    monkeypatch.setenv("RSES_CLIP_WEIGHTS", str(tmp_path))
    rses = RSES(metrics=["rsm"], clip_model=TINY_CLIP_NAME)
    rses.check_weights()
    assert 0 <= rses.score("a", photo(), photo(), box_mask(), "x")["rsm"] <= 1
    assert str(tmp_path) in rses.config()["clip"]["resolved"]


def test_lpips_backbone_from_torchvision_state_dict(tmp_path):
    import torchvision

    torch.manual_seed(5)
    state = {k: v for k, v in torchvision.models.alexnet().state_dict().items() if k.startswith("features.")}
    save_file(state, tmp_path / "alexnet-owt-7be5be79.safetensors")
    backend = load_lpips("alex", str(tmp_path))
    assert torch.equal(backend.model.net.slice1[0].weight, state["features.0.weight"])
    assert torch.equal(dict(backend.model.net.slice5.named_children())["10"].bias, state["features.10.bias"])
    torch.save(state, tmp_path / "alex.pth")
    with pytest.raises(UnsafeWeightsError, match="Refusing to load pickle"):
        load_lpips("alex", str(tmp_path / "alex.pth"))
    assert torch.equal(
        load_lpips("alex", str(tmp_path / "alex.pth"), allow_pickle=True).model.net.slice1[0].weight,
        state["features.0.weight"],
    )
    with pytest.raises(WeightsNotFoundError, match="not a torchvision alex state dict"):
        build_lpips("alex", {"features.0.weight": state["features.0.weight"]})


def test_tiny_lpips_trunk_is_random_but_heads_are_shipped():
    a, b = tiny_lpips(seed=0), tiny_lpips(seed=1)
    assert not torch.equal(a.net.slice1[0].weight, b.net.slice1[0].weight)
    assert torch.equal(a.lins[0].model[1].weight, b.lins[0].model[1].weight)
    assert np.isfinite(float(a(torch.zeros(1, 3, 32, 32), torch.ones(1, 3, 32, 32))))
