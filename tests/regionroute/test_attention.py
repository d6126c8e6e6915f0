import pytest
import torch
from diffusers.models.transformers.transformer_flux import apply_rotary_emb

from regionroute.attention import AttentionMapStore, RegionRouteAttnProcessor, StyleProbe, install_processors
from regionroute.tokens import pad_token_indices
from regionroute.train import kontext_ids
from rses.testing.flux import tiny_kontext_pipeline

T, N = 6, 4  # text tokens, target tokens (2x2 packed grid); the context adds N more


@pytest.fixture()
def transformer():
    return tiny_kontext_pipeline(seed=0).transformer.eval()


def _inputs(seed, batch=2):
    g = torch.Generator().manual_seed(seed)
    return dict(
        hidden_states=torch.randn(batch, 2 * N, 16, generator=g),
        encoder_hidden_states=torch.randn(batch, T, 32, generator=g),
        pooled_projections=torch.randn(batch, 32, generator=g),
        timestep=torch.full((batch,), 0.5),
        txt_ids=torch.zeros(T, 3),
        img_ids=kontext_ids(4, 4, "cpu", torch.float32),
    )


def _run(transformer, inputs, probe=None):
    kwargs = {"style_probe": probe} if probe else None
    ctx = probe.store.recording() if probe else torch.no_grad()
    with torch.no_grad(), ctx:
        return transformer(**inputs, joint_attention_kwargs=kwargs, return_dict=False)[0]


def test_forward_output_equals_default_processor_exactly(transformer):
    inputs = _inputs(0)
    reference = _run(transformer, inputs)
    names = install_processors(transformer)
    assert names == ["transformer_blocks.0.attn", "single_transformer_blocks.0.attn"]
    assert torch.equal(_run(transformer, inputs), reference)
    index, valid = pad_token_indices([[2, 3], [4]])
    assert torch.equal(_run(transformer, inputs, StyleProbe(index, valid, T, N)), reference)


def _naive_maps(transformer, inputs, token_lists):
    """Per sample, per query, per head, with Python loops, from the attention layers' own inputs."""
    captured = {}
    hooks = [
        m.register_forward_pre_hook(
            lambda mod, a, kw, name=name: captured.__setitem__(name, kw), with_kwargs=True
        )
        for name, m in transformer.named_modules()
        if name.endswith(".attn")
    ]
    _run(transformer, inputs)
    for h in hooks:
        h.remove()
    maps = []
    for name in ("transformer_blocks.0.attn", "single_transformer_blocks.0.attn"):
        attn, kw = transformer.get_submodule(name), captured[name]
        hs, ehs = kw["hidden_states"], kw.get("encoder_hidden_states")
        q = attn.norm_q(attn.to_q(hs).unflatten(-1, (attn.heads, -1)))
        k = attn.norm_k(attn.to_k(hs).unflatten(-1, (attn.heads, -1)))
        if ehs is not None:
            q = torch.cat([attn.norm_added_q(attn.add_q_proj(ehs).unflatten(-1, (attn.heads, -1))), q], 1)
            k = torch.cat([attn.norm_added_k(attn.add_k_proj(ehs).unflatten(-1, (attn.heads, -1))), k], 1)
        q = apply_rotary_emb(q, kw["image_rotary_emb"], sequence_dim=1)
        k = apply_rotary_emb(k, kw["image_rotary_emb"], sequence_dim=1)
        kmax = max(len(t) for t in token_lists)
        layer = torch.zeros(len(token_lists), N, kmax)
        for b, toks in enumerate(token_lists):
            for n in range(N):
                for h in range(attn.heads):
                    keys = list(range(T))
                    s = torch.stack([q[b, T + n, h] @ k[b, j, h] for j in keys]) / attn.head_dim**0.5
                    p = s.softmax(0)
                    for i, tok in enumerate(toks):
                        layer[b, n, i] += p[keys.index(tok)] / attn.heads
        maps.append(layer)
    return torch.stack(maps)


def test_maps_equal_naive_per_sample_reference(transformer):
    inputs, tokens = _inputs(1), [[2, 3], [4]]
    with torch.no_grad():
        expected = _naive_maps(transformer, inputs, tokens)
    install_processors(transformer)
    probe = StyleProbe(*pad_token_indices(tokens), T, N)
    _run(transformer, inputs, probe)
    got = probe.store.stacked()
    assert got.shape == (2, 2, N, 2)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)
    assert got[:, 1, :, 1].abs().max() == 0  # padding column


def test_no_cross_talk_between_samples(transformer):
    install_processors(transformer)
    a, b = _inputs(2), _inputs(3)
    for key in ("hidden_states", "encoder_hidden_states", "pooled_projections"):
        b[key][0] = a[key][0]
    pa = StyleProbe(*pad_token_indices([[2], [1, 2]]), T, N)
    pb = StyleProbe(*pad_token_indices([[2], [5]]), T, N)
    _run(transformer, a, pa)
    _run(transformer, b, pb)
    ma, mb = pa.store.stacked(), pb.store.stacked()
    torch.testing.assert_close(ma[:, 0, :, :1], mb[:, 0, :, :1], atol=1e-6, rtol=1e-6)
    assert not torch.allclose(ma[:, 1], mb[:, 1])


def test_store_and_probe_errors():
    with pytest.raises(RuntimeError, match="No attention maps were recorded"):
        AttentionMapStore().stacked()
    store = AttentionMapStore()
    store.put("x", torch.ones(1))  # not recording: ignored
    assert store.maps == {}
    with pytest.raises(ValueError, match="layers='some'"):
        install_processors(tiny_kontext_pipeline().transformer, "some")
    assert RegionRouteAttnProcessor("x").name == "x"
