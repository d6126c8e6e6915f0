"""Training reads pixels through rses.pixels too: EXIF orientation as everywhere else."""

import numpy as np
import torch
from PIL import Image, ImageOps

from regionroute.data import square_crop
from regionroute.train import TrainSample, load_sample


def test_training_loader_applies_orientation_like_scoring(tmp_path):
    pattern = np.zeros((8, 4, 3), np.uint8)
    pattern[:3, :2] = 255
    img = Image.fromarray(pattern)
    exif = img.getexif()
    exif[0x0112] = 6  # stored 4 wide x 8 high, displayed 8 wide x 4 high
    img.save(tmp_path / "s.png", exif=exif)
    Image.fromarray(pattern[..., 0]).save(tmp_path / "m.png", exif=exif)
    shown = np.array(ImageOps.exif_transpose(Image.open(tmp_path / "s.png")).convert("RGB"))
    shown_mask = np.array(ImageOps.exif_transpose(Image.open(tmp_path / "m.png"))) > 127
    assert shown.shape[:2] == (4, 8)
    image, mask, (target,) = square_crop(shown, shown_mask, 4, (shown,))
    want = torch.from_numpy(np.stack([target, image])).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    sample = TrainSample(
        tmp_path / "s.png", tmp_path / "s.png", tmp_path / "m.png", "make it pixel-art", "pixel-art"
    )
    pair, got_mask = load_sample(sample, 4)
    torch.testing.assert_close(pair, want, rtol=0, atol=0)  # same decoder and crop: exact by construction
    torch.testing.assert_close(got_mask, torch.from_numpy(mask), rtol=0, atol=0)


def test_rses_score_directories_refuse_two_files_with_one_stem(tmp_path, capsys):
    """`rses score SRC/ EDITS/ MASKS/` matches files by stem: with edits/a.png and edits/a.jpg it used to score
    one of them silently (the last in sort order); like `--method folder`, it must name both and stop."""
    import pytest

    from rses.cli import main

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    mask = np.zeros((8, 8), np.uint8)
    mask[2:5, 2:5] = 255
    for folder in ("src", "edits", "masks"):
        (tmp_path / folder).mkdir()
    Image.fromarray(image).save(tmp_path / "src" / "a.png")
    Image.fromarray(image).save(tmp_path / "edits" / "a.png")
    Image.fromarray(255 - image).save(tmp_path / "edits" / "a.jpg")
    Image.fromarray(mask).save(tmp_path / "masks" / "a.png")
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "score",
                str(tmp_path / "src"),
                str(tmp_path / "edits"),
                str(tmp_path / "masks"),
                "--style",
                "pixel-art",
            ]
        )
    err = " ".join(capsys.readouterr().err.split())
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert "a.jpg" in err and "a.png" in err and "same name" in err
