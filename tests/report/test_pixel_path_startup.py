"""A pixel-only evaluation with a weight-free editor runs on the CPU in NumPy and OpenCV without importing
torch (issue #13: `import torch` alone is ~650 MB of the ~825 MB such a run peaked at; the target is 300 MiB).

`--device auto` asks torch for a GPU only when the run loads a model, so it stays torch-free here too."""

import json
from pathlib import Path

import pytest
from test_cli_startup import _heavy_imports

BUILTIN = Path(__file__).resolve().parents[2] / "rses" / "data" / "builtin"


@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_a_pixel_eval_of_a_weight_free_editor_imports_no_torch(tmp_path, device):
    out = tmp_path / "run"
    argv = ["eval", "--method", "identity", "--split", "test", "--limit", "2", "--metrics", "pixel"]
    argv += ["--device", device, "--out", str(out), "--no-progress"]
    assert _heavy_imports(argv, ("torch",)) == []
    record = json.loads((out / "run.json").read_text())
    assert record["device"] == "cpu"  # auto resolves to the CPU: nothing on the run needs a GPU
    rows = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(row["status"] == "ok" for row in rows)
    assert all(
        row["ssim_bg"] == 1.0 and row["mse_bg"] == 0.0 for row in rows
    )  # identity edit: exact by construction


def test_scoring_files_with_pixel_metrics_imports_no_torch(tmp_path):
    out = tmp_path / "scores.json"
    argv = [
        "score",
        str(BUILTIN / "images" / "chelsea.png"),
        str(BUILTIN / "targets" / "chelsea-cat-pixel-art.png"),
        str(BUILTIN / "masks" / "chelsea-cat.png"),
        "--style",
        "pixel-art",
        "--metrics",
        "pixel",
        "--out",
        str(out),
    ]
    assert _heavy_imports(argv, ("torch",)) == []
    assert out.is_file()


@pytest.mark.parametrize(
    "methods, metrics, loads",
    [
        (["identity", "paste-style", "global-style", "clone-style", "folder"], ["pixel"], False),
        (["identity"], ["mse_bg", "ref_gain"], False),
        (["identity"], ["lpips_bg"], True),  # a learned metric
        (["identity"], "all", True),
        (["kontext"], ["pixel"], True),  # an editor with weights
        (["no-such-editor"], ["pixel"], True),  # unknown: counted as a model, reported by the run
    ],
)
def test_auto_asks_torch_for_a_gpu_only_when_a_model_runs(monkeypatch, methods, metrics, loads):
    import torch

    from rses.cli.helpers import auto_device, runs_a_model

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runs_a_model(methods, metrics) is loads
    assert auto_device("auto", runs_a_model(methods, metrics)) == ("cuda" if loads else "cpu")
    assert auto_device("cpu", loads) == "cpu" and auto_device("cuda:1", loads) == "cuda:1"
