import pytest

from rses.errors import RsesError
from rses.report.runs import load_runs, metric_backend, metric_directions


def test_metric_backend_labels():
    pixel = {"mse_bg": {"group": "pixel", "needs": []}}
    assert (
        metric_backend({"metric_info": pixel, "metric_config": {"clip_model": "ViT-B-32"}}) == "weight-free"
    )
    assert metric_backend({"smoke": True, "metric_info": pixel}) == "smoke"
    both = {"rses": {"group": "clip", "needs": "frozenset({'clip', 'lpips'})"}}
    config = {"clip": {"model": "ViT-L-14", "pretrained": "openai"}, "lpips": {"net": "vgg"}}
    assert (
        metric_backend({"metric_info": both, "metric_config": config}) == "CLIP ViT-L-14/openai + LPIPS vgg"
    )
    assert (
        metric_backend(
            {"metric_info": {"lpips_bg": {"group": "lpips"}}, "metric_config": {"lpips_net": "alex"}}
        )
        == "LPIPS alex"
    )


def test_load_runs_labels_paths_and_directions(synthetic_runs):
    samples, runs = load_runs([*synthetic_runs[:2], synthetic_runs[0]])
    assert [r.label for r in runs] == ["identity", "global-style", "identity (identity)"]
    assert len(samples) == 36 and samples["output_path"].str.startswith("/").all()
    assert metric_directions(runs) == {"rsm": True, "lpips_bg": False, "mse_bg": False}
    assert [r.sees_mask for r in runs] == [False, False, False]


def test_not_a_run_directory(tmp_path):
    with pytest.raises(RsesError, match="is not a run directory"):
        load_runs([tmp_path])
