"""Hostile weight files through the real CLI (`rses score --lpips-weights`): pickles are recognised by their
bytes whatever their name, malformed safetensors are one line naming the file and the problem, never a
traceback, and nothing is unpickled without --allow-pickle."""

from __future__ import annotations

import os
import pickle
import signal
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save as safetensors_save
from safetensors.torch import load_file, save_file

from rses.cli import main
from rses.io import save_image, save_mask

REAL_ALEX = Path(os.environ.get("RSES_TEST_LPIPS_WEIGHTS", "/nonexistent/alexnet-owt-7be5be79.safetensors"))
needs_trunk = pytest.mark.skipif(
    not REAL_ALEX.is_file(), reason="set RSES_TEST_LPIPS_WEIGHTS to the real AlexNet trunk (shared/weights/)"
)
STEM = "alexnet-owt-7be5be79"


class Marker:
    """Unpickling this creates a file: proof that a pickle ran code."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    from rses.cli.app import console, err_console

    for c in (console, err_console):
        monkeypatch.setattr(c, "_width", 400)


@pytest.fixture
def triple(tmp_path) -> list[str]:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    mask = np.zeros((32, 32), bool)
    mask[8:20, 8:20] = True
    save_image(tmp_path / "src.png", image)
    save_image(tmp_path / "edit.png", image)
    save_mask(tmp_path / "mask.png", mask)
    return [str(tmp_path / name) for name in ("src.png", "edit.png", "mask.png")]


def score(capsys, triple, weights, *extra: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "score",
                *triple,
                "--style",
                "x",
                "--metrics",
                "lpips_bg",
                "--lpips-weights",
                str(weights),
                *extra,
            ]
        )
    out = capsys.readouterr()
    return exit_info.value.code, out.out + out.err


def one_error_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in output, output
    assert lines[0].startswith("error: ")
    return lines[0]


def tiny_state() -> dict[str, torch.Tensor]:
    return {"features.0.weight": torch.zeros(2, 3), "features.0.bias": torch.ones(2)}


def safetensors_bytes(header: bytes, data: bytes = b"") -> bytes:
    return struct.pack("<Q", len(header)) + header + data


def write_pickles(folder: Path) -> dict[str, Path]:
    """The pickle kinds, each under a name that does not say pickle."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "torch zip, no suffix": folder / "alex",
        "torch legacy, .weights": folder / "alex.weights",
        "protocol 2, .npy": folder / "alex.npy",
        "protocol 5, .txt": folder / "alex.txt",
        "protocol 0, no suffix": folder / "alex0",
    }
    torch.save(tiny_state(), paths["torch zip, no suffix"])
    torch.save(tiny_state(), paths["torch legacy, .weights"], _use_new_zipfile_serialization=False)
    paths["protocol 2, .npy"].write_bytes(pickle.dumps(Marker(str(folder / "ran")), protocol=2))
    paths["protocol 5, .txt"].write_bytes(pickle.dumps(Marker(str(folder / "ran")), protocol=5))
    paths["protocol 0, no suffix"].write_bytes(pickle.dumps(Marker(str(folder / "ran")), protocol=0))
    return paths


@pytest.mark.parametrize(
    "kind",
    [
        "torch zip, no suffix",
        "torch legacy, .weights",
        "protocol 2, .npy",
        "protocol 5, .txt",
        "protocol 0, no suffix",
    ],
)
def test_pickles_with_any_name_are_refused_without_the_opt_in(tmp_path, capsys, triple, kind):
    path = write_pickles(tmp_path / "w")[kind]
    code, output = score(capsys, triple, path)
    assert code == 1
    line = one_error_line(output)
    assert "Refusing to load" in line and str(path) in line and "--allow-pickle" in line
    assert not (tmp_path / "w" / "ran").exists()


@pytest.mark.parametrize("allow", [False, True])
def test_a_pickle_named_safetensors_is_refused_even_with_the_opt_in(tmp_path, capsys, triple, allow):
    path = tmp_path / f"{STEM}.safetensors"
    path.write_bytes(pickle.dumps(Marker(str(tmp_path / "ran")), protocol=4))
    code, output = score(capsys, triple, path, *(["--allow-pickle"] if allow else []))
    assert code == 1
    line = one_error_line(output)
    assert f"Checkpoint {path} is named .safetensors but holds a pickle" in line
    assert not (tmp_path / "ran").exists()


@needs_trunk
def test_an_opted_in_pickle_without_suffix_loads(tmp_path, capsys, triple):
    path = tmp_path / "alex"
    torch.save(load_file(REAL_ALEX), path)
    code, output = score(capsys, triple, path, "--allow-pickle")
    assert code in (0, None), output
    assert "lpips_bg" in output


def _offsets_out_of_range() -> bytes:
    return safetensors_bytes(b'{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,99]}}', b"\0" * 12)


MALFORMED = {
    "empty": (lambda: b"", "it is empty (0 bytes)"),
    "shorter than 8 bytes": (lambda: b"\x05\0\0\0\0", "it is truncated: 5 bytes"),
    "absurd header length": (
        lambda: struct.pack("<Q", 2**60) + b"{}",
        f"its header length {2**60} is absurd",
    ),
    "header past the end": (
        lambda: struct.pack("<Q", 1000) + b"{}",
        "its header length 1000 runs past the end",
    ),
    "header not JSON": (lambda: safetensors_bytes(b"{abc}"), "its header is not JSON"),
    "header a JSON list": (lambda: safetensors_bytes(b"[1, 2]"), "its header is JSON list, not an object"),
    "header not UTF-8": (lambda: safetensors_bytes(b"{\xff\xfe}"), "its header is not JSON"),
    "offsets out of range": (_offsets_out_of_range, "invalid shape, data type, or offset"),
    "truncated data": (
        lambda: safetensors_save({"w": np.zeros(100_000, np.float32)})[:100_000],
        "incomplete metadata, file not fully covered",
    ),
    "zip but not torch": (lambda: b"PK\x03\x04" + b"\0" * 40, "is named .safetensors but holds a pickle"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_safetensors_file_is_one_line_naming_it(tmp_path, capsys, triple, case):
    make, problem = MALFORMED[case]
    path = tmp_path / f"{STEM}.safetensors"
    path.write_bytes(make())
    code, output = score(capsys, triple, path)
    assert code == 1
    line = one_error_line(output)
    assert str(path) in line and problem in line


def test_a_symlink_to_a_pickle_is_refused_naming_both(tmp_path, capsys, triple):
    target = tmp_path / "real.pth"
    torch.save(tiny_state(), target)
    link = tmp_path / f"{STEM}.safetensors"
    link.symlink_to(target)
    code, output = score(capsys, triple, link)
    line = one_error_line(output)
    assert code == 1 and f"{link} (a symlink to {target}) is named .safetensors but holds a pickle" in line


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "directory"])
def test_a_checkpoint_that_is_no_regular_file_is_refused_without_reading_it(
    tmp_path, capsys, triple, special
):
    path = tmp_path / f"{STEM}.safetensors"
    if special == "fifo":
        os.mkfifo(path)  # opening it to read would block forever
    elif special == "directory":
        path.mkdir()
        (path / "x.safetensors").symlink_to("/dev/zero")
    else:
        path.symlink_to(special)

    def blocked(signum, frame):
        raise TimeoutError(f"rses blocked reading {special}")

    previous = signal.signal(signal.SIGALRM, blocked)
    signal.alarm(30)
    try:
        code, output = score(capsys, triple, path)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    line = one_error_line(output)
    assert code == 1 and "is not a regular file" in line


@needs_trunk
def test_an_empty_safetensors_next_to_a_real_one_is_named(tmp_path, capsys, triple):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / f"{STEM}.safetensors").symlink_to(REAL_ALEX)
    (folder / "extra.safetensors").write_bytes(b"")
    code, output = score(capsys, triple, folder)
    line = one_error_line(output)
    assert (
        code == 1 and f"{folder / 'extra.safetensors'} is not a valid safetensors file: it is empty" in line
    )
    (folder / "extra.safetensors").unlink()
    code, output = score(capsys, triple, folder)
    assert code in (0, None), output


def test_a_pickle_disguised_in_a_weights_folder_is_refused(tmp_path, capsys, triple):
    folder = tmp_path / "weights"
    folder.mkdir()
    save_file(tiny_state(), folder / "not-the-one.safetensors")  # valid, but the folder also has...
    (folder / "sub").mkdir()
    torch.save(tiny_state(), folder / "sub" / "model")  # ...a folder whose only weights are a pickle
    code, output = score(capsys, triple, folder)
    line = one_error_line(output)
    assert code == 1 and f"Refusing to load pickle checkpoint(s) in {folder / 'sub'}" in line


@pytest.mark.parametrize("header_bytes", [640, 896, 1152, 1408])
def test_a_real_safetensors_whose_header_length_starts_like_a_pickle_is_safetensors(tmp_path, header_bytes):
    """A header of 0x280 bytes is stored as 80 02 00 ..., the first two bytes of a protocol-2 pickle."""
    from rses.checkpoints import check_file, sniff

    header = b'{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    header += b" " * (header_bytes - len(header))  # the format allows trailing spaces in the header
    path = tmp_path / "w.safetensors"
    path.write_bytes(struct.pack("<Q", header_bytes) + header + struct.pack("<f", 1.5))
    assert path.read_bytes()[0] == 0x80
    assert sniff(path) == "safetensors"
    check_file(path, allow_pickle=False)  # accepted
    assert load_file(str(path))["x"].tolist() == [1.5]  # and it is what the safetensors library reads
