"""The CPU rewrites of open_clip's vision blocks: same function to float32 rounding, same state_dict."""

import copy

import pytest
import torch
from open_clip.transformer import QuickGELU, ResidualAttentionBlock

from rses.metrics.backends import OpenClipBackend, build_open_clip
from rses.metrics.fast_clip import PackedLinear, PackedSelfAttention, speed_up_blocks
from rses.metrics.tiny_models import register_tiny_clip_config

pytestmark = pytest.mark.skipif(not PackedLinear.available(), reason="this torch build has no MKL linear")
EPS = torch.finfo(torch.float32).eps


def blocks(act_layer, n=2, width=32, heads=4):
    torch.manual_seed(0)
    return torch.nn.Sequential(
        *(ResidualAttentionBlock(width, heads, act_layer=act_layer) for _ in range(n))
    ).eval()


@pytest.mark.parametrize("act_layer", [QuickGELU, torch.nn.GELU])
def test_rewritten_blocks_compute_the_same_function_and_keep_the_state_dict(act_layer):
    plain = blocks(act_layer)
    fast = copy.deepcopy(plain)
    assert speed_up_blocks(fast) == 2
    assert isinstance(fast[0].attn, PackedSelfAttention) and isinstance(fast[0].mlp.c_fc, PackedLinear)
    assert isinstance(fast[0].mlp.gelu, torch.nn.SiLU) == (act_layer is QuickGELU)
    ref, got = plain.state_dict(), fast.state_dict()
    assert list(ref) == list(got) and all(torch.equal(ref[k], got[k]) for k in ref)
    with torch.inference_mode():
        for rows in (
            3,
            3,
            5,
        ):  # packs for 2 x 3 rows, then another row count (the plain GEMM, scaled weights)
            x = torch.randn(2, rows, 32)
            # Reordered float32 sums (packed GEMM, SDPA) and the folded scale (one more rounding per weight)
            # move each output by a few eps relative to the activations' size (~1-10 here), over two blocks.
            torch.testing.assert_close(fast(x), plain(x), rtol=0, atol=64 * EPS * 10)


def test_packed_self_attention_equals_multihead_attention_with_masks():
    torch.manual_seed(1)
    mha = torch.nn.MultiheadAttention(16, 2, batch_first=True).eval()
    fast = PackedSelfAttention(mha)
    x = torch.randn(3, 6, 16)
    causal = torch.triu(torch.ones(6, 6, dtype=torch.bool), diagonal=1)  # True: masked out, as MHA reads it
    additive = torch.zeros(6, 6).masked_fill(causal, float("-inf"))
    with torch.inference_mode():
        for mask in (None, causal, additive):
            ref = mha(x, x, x, need_weights=False, attn_mask=mask)[0]
            got, weights = fast(x, x, x, need_weights=False, attn_mask=mask)
            assert weights is None
            torch.testing.assert_close(got, ref, rtol=0, atol=32 * EPS * 4)
    with pytest.raises(ValueError, match="self-attention"):
        fast(x, x, x)  # need_weights defaults to True, as in nn.MultiheadAttention
    with pytest.raises(ValueError, match="self-attention"):
        fast(x, x.clone(), x, need_weights=False)


def test_scaled_packed_linear_uses_the_scales_on_every_path():
    linear = torch.nn.Linear(8, 12)
    packed = PackedLinear(linear, weight_scale=2.0, bias_scale=3.0)
    assert list(packed.state_dict()) == ["weight", "bias"]
    assert torch.equal(packed.state_dict()["weight"], linear.weight)
    for grad in (False, True):
        with torch.set_grad_enabled(grad):
            for rows in (4, 4, 7):  # packed for 4 rows, then the plain GEMM
                x = torch.randn(rows, 8)
                want = x @ (2 * linear.weight).T + 3 * linear.bias
                torch.testing.assert_close(packed(x), want, rtol=1e-5, atol=1e-5)


def test_clip_backend_with_quick_gelu_embeds_as_the_stock_model():
    name = register_tiny_clip_config()
    torch.manual_seed(4)
    model, preprocess, tokenizer = build_open_clip(name, None, quick_gelu=True)
    stock = copy.deepcopy(model)
    backend = OpenClipBackend(model, preprocess, tokenizer, key="t")
    assert isinstance(backend.model.visual.transformer.resblocks[0].mlp.gelu, torch.nn.SiLU)
    images = torch.rand(4, 3, 32, 32)
    with torch.inference_mode():
        ref, got = stock.encode_image(images), backend.model.encode_image(images)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)  # float32 rounding, see the test above
