import torch

from rses.testing import tiny_lpips, tiny_open_clip


def test_tiny_open_clip_builds_runs_and_is_deterministic():
    a = tiny_open_clip(seed=0)
    b, c = tiny_open_clip(seed=0), tiny_open_clip(seed=1)
    tokens = a.tokenizer(["a pixel art style image"])
    image = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        emb = a.model.encode_image(image)
        assert emb.shape == (1, 16) and torch.isfinite(emb).all()
        assert torch.equal(emb, b.model.encode_image(image))
        assert torch.equal(a.model.encode_text(tokens), b.model.encode_text(tokens))
        assert not torch.equal(emb, c.model.encode_image(image))


def test_tiny_lpips_builds_runs_and_is_deterministic():
    a = tiny_lpips(seed=0)
    x, y = torch.rand(1, 3, 64, 64) * 2 - 1, torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        d = a(x, y)
        assert d.shape == (1, 1, 1, 1) and float(d) > 0
        assert torch.equal(d, tiny_lpips(seed=0)(x, y))
        assert not torch.equal(d, tiny_lpips(seed=1)(x, y))
        assert float(a(x, x)) == 0.0
