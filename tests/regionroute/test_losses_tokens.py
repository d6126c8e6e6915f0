import math

import pytest
import torch

from regionroute.losses import AttentionLossConfig, attention_losses, cover_loss, focus_loss, mask_to_grid
from regionroute.tokens import style_char_span, style_token_indices
from rses.errors import UsageError
from rses.testing.tokenizers import tiny_t5_tokenizer


def _maps(values):
    return torch.tensor(values, dtype=torch.float32).view(1, 1, -1, 1)


def test_focus_hand_computed():
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    valid = torch.tensor([[True]])
    # tau = 1: p = softmax([1, 0, 0, 0]); target = [.5, .5, 0, 0]
    z = math.e + 3
    expected = 0.5 * (math.log(0.5) - math.log(math.e / z)) + 0.5 * (math.log(0.5) - math.log(1 / z))
    assert float(focus_loss(_maps([1, 0, 0, 0]), mask, valid, tau=1.0)) == pytest.approx(expected, abs=1e-6)
    # a map concentrated on the mask (tau sharpens it) has lower focus loss
    assert float(focus_loss(_maps([1, 1, 0, 0]), mask, valid, tau=0.1)) < 1e-4
    # empty mask -> uniform target: a uniform map costs 0
    assert float(focus_loss(_maps([0.3] * 4), torch.zeros(1, 4), valid)) == pytest.approx(0.0, abs=1e-6)


def test_cover_hand_computed():
    mask = torch.tensor([[1.0, 0.0]])
    valid = torch.tensor([[True]])
    bce1 = math.log1p(math.exp(-2.0))  # logit 2*1, label 1
    bce0 = math.log(2.0)  # logit 0, label 0
    assert float(cover_loss(_maps([1, 0]), mask, valid, alpha=2.0)) == pytest.approx(
        (bce1 + bce0) / 2, abs=1e-6
    )


def test_padding_tokens_are_ignored_and_reductions_differ():
    mask = torch.tensor([[1.0, 0.0]])
    maps = torch.tensor([[0.9, 0.1], [0.2, 0.8]]).view(2, 1, 2, 1)  # 2 layers, 1 sample, 2 positions, 1 token
    padded = torch.cat([maps, torch.full_like(maps, 7.0)], dim=-1)
    valid, valid_pad = torch.tensor([[True]]), torch.tensor([[True, False]])
    for red in ("per-layer", "layer-averaged"):
        a = focus_loss(maps, mask, valid, 0.1, red)
        assert float(focus_loss(padded, mask, valid_pad, 0.1, red)) == pytest.approx(float(a))
    per_layer = float(focus_loss(maps, mask, valid, 0.1, "per-layer"))
    averaged = float(focus_loss(maps, mask, valid, 0.1, "layer-averaged"))  # map = [.55, .45]
    p = torch.softmax(torch.tensor([5.5, 4.5]), 0)
    assert averaged == pytest.approx(-math.log(float(p[0])), abs=1e-5)
    assert per_layer != pytest.approx(averaged)


def _plain_losses(maps, mask, valid, tau, alpha):
    """The formulas as written (kl_div, BCE, mean over valid tokens, samples, layers), per-layer reduction."""
    area = mask.sum(-1, keepdim=True)
    target = torch.where(area > 0, mask / area.clamp_min(1e-12), 1 / mask.shape[-1])
    t4 = target[None, :, :, None].expand_as(maps)
    kl = torch.nn.functional.kl_div(torch.log_softmax(maps / tau, -2), t4, reduction="none").sum(-2)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(
        alpha * maps, mask[None, :, :, None].expand_as(maps), reduction="none"
    ).mean(-2)
    w = valid.float()

    def token_mean(per_token):
        return ((per_token * w).sum(-1) / w.sum(-1)).mean()

    return token_mean(kl), token_mean(bce)


def test_losses_and_gradients_equal_the_plain_formulas():
    g = torch.Generator().manual_seed(0)
    maps = torch.rand(3, 2, 4, 2, generator=g, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)  # one empty mask
    valid = torch.tensor([[True, True], [True, False]])
    out = attention_losses(maps, mask, valid, AttentionLossConfig(tau=0.3, alpha=2.0, reduction="per-layer"))
    focus, cover = _plain_losses(maps, mask, valid, 0.3, 2.0)
    torch.testing.assert_close(out["focus"], focus)
    torch.testing.assert_close(out["cover"], cover)
    got = torch.autograd.grad(out["focus"] + 3 * out["cover"], maps)[0]
    torch.testing.assert_close(got, torch.autograd.grad(focus + 3 * cover, maps)[0])
    assert got[:, 1, :, 1].abs().max() == 0  # padding token: no gradient


def test_weights_and_bad_config():
    cfg = AttentionLossConfig(lambda_focus=0.5, lambda_cover=2.0)
    out = attention_losses(_maps([1, 0]), torch.tensor([[1.0, 0.0]]), torch.tensor([[True]]), cfg)
    assert float(out["attn"]) == pytest.approx(0.5 * float(out["focus"]) + 2.0 * float(out["cover"]))
    with pytest.raises(ValueError, match="reduction='mean'"):
        AttentionLossConfig(reduction="mean")


def test_mask_to_grid_is_the_covered_share_of_each_cell():
    m = torch.zeros(1, 32, 32)
    m[0, 20:23, 5:7] = 1  # a 3x2 px object inside cell (1, 0) of a 2x2 grid of 16x16 cells
    m[0, 0:16, 16:32] = 1  # cell (0, 1) full
    got = mask_to_grid(m, (2, 2))
    assert got.tolist() == [[0.0, 1.0, 6 / 256, 0.0]]  # nearest sampling would drop the small object
    assert float(mask_to_grid(m, (1, 1))[0, 0]) == pytest.approx((256 + 6) / 1024)


@pytest.fixture(scope="module")
def tok():
    return tiny_t5_tokenizer()


def test_tokens_hyphen_and_case(tok):
    prompt = "make the cat in Pixel-Art style, keep other area unchanged"
    idx = style_token_indices(tok, prompt, "pixel-art", 32)
    pieces = tok.convert_ids_to_tokens(tok(prompt).input_ids)
    assert idx and "".join(pieces[i] for i in idx).replace("▁", "").lower() == "pixel-art"
    assert style_char_span("make the cat in pixel art style", "pixel-art") == (16, 25)


def test_tokens_repeated_word_prefers_style_mention(tok):
    prompt = "make the line-art cat in line-art style"
    start, _ = style_char_span(prompt, "line-art")
    assert start == prompt.index("in line-art") + 3
    idx = style_token_indices(tok, prompt, "line-art", 32)
    assert min(idx) > max(style_token_indices(tok, "make the line-art", "line-art", 32))


def test_tokens_missing_word_and_truncation(tok):
    with pytest.raises(UsageError, match="Style word 'cyberpunk' not found in prompt"):
        style_token_indices(tok, "make the cat in pixel-art style", "cyberpunk", 32)
    with pytest.raises(UsageError, match="falls past the first 3 tokens"):
        style_token_indices(tok, "make the cat in pixel-art style", "pixel-art", 3)
    with pytest.raises(UsageError, match="not found"):  # whole words only
        style_char_span("a cyberpunks scene", "cyberpunk")
