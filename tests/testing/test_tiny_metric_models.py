"""The tiny metric models: the seed fixes every weight (compared bit for bit: they are drawn, not computed), and
the outputs of two builds agree (compared with float32 tolerances: a forward pass is a computation)."""

import torch

from rses.testing import tiny_lpips, tiny_open_clip


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_tiny_open_clip_builds_runs_and_is_deterministic():
    a = tiny_open_clip(seed=0)
    b, c = tiny_open_clip(seed=0), tiny_open_clip(seed=1)
    assert_same_weights(a.model, b.model)
    tokens = a.tokenizer(["a pixel art style image"])
    image = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        emb = a.model.encode_image(image)
        assert emb.shape == (1, 16) and torch.isfinite(emb).all()
        # same weights and inputs: equal up to float32 rounding of a one-layer ViT (~1e-7 relative)
        torch.testing.assert_close(emb, b.model.encode_image(image), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(
            a.model.encode_text(tokens), b.model.encode_text(tokens), atol=1e-5, rtol=1e-5
        )
        assert (emb - c.model.encode_image(image)).abs().max() > 1e-3


def test_tiny_lpips_builds_runs_and_is_deterministic():
    a = tiny_lpips(seed=0)
    assert_same_weights(a, tiny_lpips(seed=0))
    x, y = torch.rand(1, 3, 64, 64) * 2 - 1, torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        d = a(x, y)
        assert d.shape == (1, 1, 1, 1) and float(d) > 0
        torch.testing.assert_close(d, tiny_lpips(seed=0)(x, y), atol=1e-6, rtol=1e-5)  # float32 conv rounding
        assert (d - tiny_lpips(seed=1)(x, y)).abs().max() > 1e-4
        # one input twice: lpips runs the same trunk on the same tensor, so the feature difference is exactly 0
        assert float(a(x, x)) == 0.0
