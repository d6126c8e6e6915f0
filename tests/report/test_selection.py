import pandas as pd
import pytest

from rses.errors import UsageError
from rses.report.selection import background_metric, combined_score, sample_score, style_metric


def test_metric_preference_and_fallback():
    assert style_metric({"mse_bg": False, "rsm": True, "rsm_gain": True}) == "rsm_gain"
    assert style_metric({"mse_bg": False, "ref_gain": True}) == "ref_gain"
    assert style_metric({"my_style": True}) == "my_style"
    assert background_metric({"lpips_bg": False, "mse_bg": False}) == "lpips_bg"
    with pytest.raises(
        UsageError, match=r"no lower-is-better \(background\) metric; scored metrics: \['rsm'\]"
    ):
        background_metric({"rsm": True})


def test_combined_score_exact_ranks():
    t = pd.DataFrame({"rsm": [0.6, 0.7, 0.5], "lpips_bg": [0.1, 0.3, 0.2]})
    assert combined_score(t, {"rsm": True, "lpips_bg": False}).round(4).tolist() == [0.8333, 0.6667, 0.5]


def test_sample_score_prefers_the_rses_metric():
    t = pd.DataFrame({"rsm": [0.6, 0.7], "lpips_bg": [0.1, 0.3], "rses": [0.2, 0.9]})
    scores, note = sample_score(t, {"rsm": True, "lpips_bg": False, "rses": True}, "rsm", "lpips_bg")
    assert scores.tolist() == [0.2, 0.9] and "rses" in note
    scores, note = sample_score(t, {"rsm": True, "lpips_bg": False}, "rsm", "lpips_bg")
    assert scores.tolist() == [0.75, 0.75] and "percentile" in note
