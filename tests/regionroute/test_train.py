import json

import numpy as np
import pytest
import torch

from regionroute.experts import activate_expert, experts_of, load_expert, route_style, save_expert
from regionroute.train import (
    TrainConfig,
    encode_samples,
    evaluate_fixed_batch,
    prepare_transformer,
    samples_from_split,
    train,
    training_losses,
)
from rses.editing import EditRequest, get_editor
from rses.errors import UsageError
from rses.testing.flux import tiny_kontext_pipeline

RES, SEQ = 128, 32


def _config(**kw):
    base = dict(
        style="pixel-art",
        steps=40,
        batch_size=2,
        grad_accum=1,
        resolution=RES,
        max_sequence_length=SEQ,
        lr=3e-3,
        validate_every=0,
        checkpoint_every=0,
    )
    return TrainConfig(**(base | kw))


def test_training_on_builtin_split_moves_attention_into_mask(tmp_path):
    pipe = tiny_kontext_pipeline(seed=0)
    samples = samples_from_split("train", "pixel-art")
    cfg = _config(validate_every=40)
    cache = encode_samples(pipe, samples, RES, SEQ)
    fixed = torch.arange(len(samples))
    prepare_transformer(pipe.transformer, cfg)
    before = evaluate_fixed_batch(pipe.transformer, cache, fixed, cfg)
    result = train(cfg, pipe, samples, tmp_path)
    after = evaluate_fixed_batch(pipe.transformer, cache, fixed, cfg)
    (tmp_path / "evidence.json").write_text(json.dumps({"before": before, "after": after}))
    print("attention evidence", {"before": before, "after": after})
    assert after["focus"] + after["cover"] < before["focus"] + before["cover"] - 0.05
    assert after["mass_in_mask"] > before["mass_in_mask"] + 0.05
    assert len(result.history) == 40 and {"flow", "focus", "cover"} <= set(result.history[0])
    for name in ("losses.csv", "losses.json", "losses.png", "pixel-art.safetensors", "config.json"):
        assert (tmp_path / name).is_file(), name
    assert list((tmp_path / "validation" / "step-40").glob("attention_*.png"))


def test_gradients_reach_only_lora_parameters():
    pipe = tiny_kontext_pipeline(seed=0)
    tr = pipe.transformer
    cfg = _config()
    prepare_transformer(tr, cfg)
    cache = encode_samples(pipe, samples_from_split("train", "pixel-art"), RES, SEQ)
    batch = cache.batch(torch.arange(2))
    out = training_losses(tr, batch, torch.randn_like(batch["target_latents"]), torch.tensor([0.3, 0.8]))
    out["loss"].backward()
    with_grad = {n for n, p in tr.named_parameters() if p.grad is not None}
    assert with_grad and all("lora_" in n for n in with_grad)
    assert all(p.grad.abs().sum() > 0 for n, p in tr.named_parameters() if "lora_B" in n)
    assert not any(p.requires_grad for n, p in tr.named_parameters() if "lora_" not in n)


def test_expert_save_load_round_trip_and_checkpoint_resume(tmp_path):
    pipe = tiny_kontext_pipeline(seed=0)
    samples = samples_from_split("train", "pixel-art")
    train(_config(steps=2, checkpoint_every=1), pipe, samples, tmp_path)
    assert (tmp_path / "checkpoints" / "step-2" / "trainer.json").is_file()
    resumed = train(_config(steps=3), tiny_kontext_pipeline(seed=0), samples, tmp_path)
    assert [r["step"] for r in resumed.history] == [1, 2, 3]

    path = save_expert(pipe.transformer, "pixel-art", tmp_path / "expert")
    fresh = tiny_kontext_pipeline(seed=0)
    load_expert(fresh, path, "pixel-art")
    cache = encode_samples(pipe, samples, RES, SEQ)
    batch = cache.batch(torch.arange(2))
    noise, sig = torch.randn_like(batch["target_latents"]), torch.tensor([0.5, 0.5])
    with torch.no_grad():
        a = training_losses(pipe.transformer.eval(), batch, noise, sig, attn_loss=False)["flow"]
        b = training_losses(fresh.transformer.eval(), batch, noise, sig, attn_loss=False)["flow"]
        fresh.transformer.disable_adapters()
        c = training_losses(fresh.transformer, batch, noise, sig, attn_loss=False)["flow"]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_routing_and_unknown_style_errors():
    pipe = tiny_kontext_pipeline(seed=0)
    with pytest.raises(UsageError, match="No RegionRoute expert for style 'watercolor'"):
        activate_expert(pipe.transformer, "watercolor")
    assert route_style("make the cat in line art style", ["pixel-art", "line-art"]) == "line-art"
    with pytest.raises(UsageError, match="names none of the expert styles"):
        route_style("make the cat blue", ["pixel-art"])
    with pytest.raises(UsageError, match="no sample of style 'watercolor'"):
        samples_from_split("train", "watercolor")
    with pytest.raises(UsageError, match="optimizer='sgd'"):
        train(
            _config(optimizer="sgd", steps=1), pipe, samples_from_split("train", "pixel-art")[:1], "/tmp/rr-x"
        )


def test_editor_runs_without_mask_and_rejects_unknown_style():
    editor = get_editor("regionroute", smoke=True)
    assert editor.sees_mask is False
    image = np.zeros((40, 48, 3), np.uint8)
    req = EditRequest(
        "s0",
        image,
        None,
        "make the cat in cyberpunk style, keep other area unchanged",
        "cyberpunk",
        "cat",
        seed=0,
    )
    out = editor.edit([req])
    assert out[0].shape == image.shape and out[0].dtype == np.uint8
    assert set(experts_of(editor.load_pipeline().transformer)) == {
        "pixel-art",
        "cyberpunk",
        "expressionism",
        "line-art",
    }
    bad = EditRequest("s1", image, None, "make the cat in watercolor style", "watercolor", "cat")
    with pytest.raises(UsageError, match="No RegionRoute expert for style 'watercolor'"):
        editor.edit([bad])


def test_editor_preflight_resolves_the_configured_base_and_experts(tmp_path):
    from regionroute.editor import RegionRouteConfig
    from rses.errors import WeightsNotFoundError

    base, experts = tmp_path / "kontext", tmp_path / "experts"
    base.mkdir()
    (base / "model_index.json").write_text("{}")
    config = RegionRouteConfig(weights=str(base), experts=str(experts))
    with pytest.raises(
        WeightsNotFoundError, match="RegionRoute style experts not found.*experts \\(does not"
    ):
        get_editor("regionroute", config=config).check_weights()
    experts.mkdir()
    get_editor("regionroute", config=config).check_weights()  # both configured folders exist: no hub lookup
    with pytest.raises(WeightsNotFoundError, match="RegionRoute style experts"):
        get_editor(
            "regionroute", config=RegionRouteConfig(experts=str(tmp_path / "nowhere")), smoke=True
        ).check_weights()


def test_editor_routes_each_request_of_a_batch_to_its_own_expert():
    editor = get_editor("regionroute", smoke=True)
    transformer = editor.load_pipeline().transformer
    g = torch.Generator().manual_seed(0)
    for name, param in transformer.named_parameters():
        if "lora_B.cyberpunk" in name:  # a fresh expert is a no-op: make this one act
            param.data = torch.randn(param.shape, generator=g) * 0.5
    image = np.random.default_rng(0).integers(0, 255, (40, 48, 3), dtype=np.uint8)

    def request(style):
        return EditRequest(style, image, None, f"make the cat in {style} style", style, "cat", seed=3)

    alone = {style: editor.edit([request(style)])[0] for style in ("pixel-art", "cyberpunk")}
    assert not np.array_equal(alone["pixel-art"], alone["cyberpunk"])
    batch = editor.edit([request("cyberpunk"), request("pixel-art"), request("cyberpunk")])
    for got, style in zip(batch, ("cyberpunk", "pixel-art", "cyberpunk"), strict=True):
        np.testing.assert_array_equal(got, alone[style])
