"""`rses data manifest DIR` on folders as people have them: hidden files (macOS ``._x.png`` companions),
two images with one stem, a file that is no image. Nothing is guessed, and a failed command leaves no
(or the earlier) manifest."""

import numpy as np
import pytest

from rses.cli import main
from rses.data.manifest import read_manifest
from rses.io import save_image, save_mask


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "mydata"
    save_image(root / "images" / "cat.png", np.random.default_rng(0).integers(0, 255, (16, 16, 3), np.uint8))
    mask = np.zeros((16, 16), bool)
    mask[2:8, 2:8] = True
    save_mask(root / "masks" / "cat.png", mask)
    return root


def run(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main(["data", "manifest", *map(str, args)])
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_hidden_files_are_not_samples(folder, capsys):
    for sub in ("images", "masks"):
        (folder / sub / "._cat.png").write_bytes(b"\x00\x05\x16\x07AppleDouble")  # what macOS copies leave
        (folder / sub / ".thumb.png").write_bytes(b"not an image")
    code, out, err = run(capsys, folder, "--styles", "pixel-art")
    assert code == 0, err
    assert [s.id for s in read_manifest(folder / "split.jsonl").samples] == ["cat-pixel-art"]


def test_two_images_with_one_stem_are_a_one_line_error_naming_both(folder, capsys):
    save_image(folder / "images" / "cat.jpg", np.zeros((16, 16, 3), np.uint8))
    code, _, err = run(capsys, folder, "--styles", "pixel-art")
    text = " ".join(err.split())
    assert code == 2 and "cat.jpg" in text and "cat.png" in text and "Traceback" not in err
    assert not (folder / "split.jsonl").exists()


def test_a_manifest_that_fails_its_check_is_not_left_behind(folder, capsys):
    code, _, err = run(capsys, folder, "--styles", "pixel-art")
    assert code == 0, err
    good = (folder / "split.jsonl").read_bytes()
    (folder / "images" / "dog.png").write_text("not a png")
    save_mask(folder / "masks" / "dog.png", np.ones((16, 16), bool))
    code, _, err = run(capsys, folder, "--styles", "pixel-art")
    assert code == 1 and "dog.png" in err
    assert (folder / "split.jsonl").read_bytes() == good  # the earlier, valid manifest stands
