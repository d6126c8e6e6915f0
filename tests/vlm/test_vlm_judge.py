"""The VLM judge on the tiny random-weight Qwen2.5-VL twin: P(yes), determinism, caching, regions, weights."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from rses.errors import UsageError, WeightsNotFoundError
from rses.metrics import RSES
from rses.metrics.vlm import (
    GREY,
    QUESTIONS,
    AnswerCache,
    judge_questions,
    load_judge,
    localized,
    opposite_style,
    p_yes_from_logits,
    region_views,
)
from rses.testing.qwen_vl import tiny_qwen_vl_dir

#: float32 on CPU: a batch of 3 pads the shorter prompts (masked out) and changes the GEMM shapes, so the
#: logits move by float rounding only (~1e-6 relative); P(yes) of the tiny twin is ~0.5, so 1e-5 absolute.
BATCH_TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tiny_qwen_vl_dir(tmp_path_factory.mktemp("twin"))


def images(n=3):
    rng = np.random.default_rng(1)
    shapes = [(40, 70), (90, 30), (56, 56), (33, 47)]
    return [rng.integers(0, 256, (*shapes[i % 4], 3), dtype=np.uint8) for i in range(n)]


def test_p_yes_is_the_two_way_softmax():
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0], [-1.0, 3.0]])
    expected = [math.exp(2) / (math.exp(2) + 1), 0.5, math.exp(-1) / (math.exp(-1) + math.exp(3))]
    assert p_yes_from_logits(logits).tolist() == pytest.approx(expected, abs=1e-7)


def test_localized_is_above_half_exactly_when_object_yes_and_background_no():
    assert localized(0.9, 0.2) == pytest.approx(0.8)
    assert localized(0.9, 0.7) == pytest.approx(0.3)
    assert localized(0.3, 0.1) == pytest.approx(0.3)


def test_opposites_are_symmetric_and_a_missing_one_is_a_clear_error():
    for style in ("pixel-art", "expressionism", "line-art", "cyberpunk"):
        assert opposite_style(opposite_style(style)) == style
    with pytest.raises(UsageError, match=r"Style 'watercolor' has no opposite style.*vlm_opposites"):
        judge_questions("watercolor", ["vlm_obj_opposite"])
    assert judge_questions("watercolor", ["vlm_obj_target"])["vlm_obj_target"][1] == QUESTIONS[
        "object"
    ].format(style="watercolor")


def test_region_views_grey_the_other_region():
    image = np.full((20, 30, 3), 7, np.uint8)
    mask = torch.zeros(20, 30, dtype=torch.bool)
    mask[5:15, 10:20] = True
    views = region_views(image, mask, padding=0.0)
    assert views["background"].shape == (28, 42, 3)  # upscaled: Qwen needs sides >= 28 (aspect 20:30 kept)
    assert views["object"].shape == (28, 28, 3)  # the 10x10 box, upscaled
    assert (views["object"] == 7).all()  # no padding: only object pixels
    bg = region_views(
        np.full((60, 90, 3), 7, np.uint8),
        torch.nn.functional.interpolate(mask[None, None].float(), size=(60, 90))[0, 0].bool(),
        padding=0.5,
    )
    assert (bg["background"][15:45, 30:60] == GREY).all() and (bg["background"][:15] == 7).all()
    assert (bg["object"] == GREY).all(axis=-1).any() and (bg["object"] == 7).all(axis=-1).any()


def test_same_inputs_same_probabilities_across_batch_sizes(folder):
    one = load_judge(folder, batch_size=1)
    three = load_judge(folder, batch_size=3)
    ims, qs = images(3), ["Is this red?", QUESTIONS["object"].format(style="pixel art"), "Is it?"]
    p1, p3 = one.p_yes(ims, qs), three.p_yes(ims, qs)
    assert all(0.0 <= p <= 1.0 for p in p1)
    assert p1 == pytest.approx(p3, abs=BATCH_TOLERANCE)
    assert three.p_yes(ims, qs) == p3  # the same batch again: bit-identical (no sampling anywhere)
    assert one.identity == three.identity  # batch size is not part of the answer's identity


def test_answers_are_cached_across_processes(folder, tmp_path):
    db = tmp_path / "answers.sqlite"
    code = textwrap.dedent(f"""
        import json, numpy as np
        from rses.metrics.vlm import AnswerCache, load_judge
        rng = np.random.default_rng(1)
        ims = [rng.integers(0, 256, (40, 70, 3), dtype=np.uint8), rng.integers(0, 256, (90, 30, 3), dtype=np.uint8)]
        judge = load_judge({str(folder)!r}, cache=AnswerCache({str(db)!r}))
        print(json.dumps(judge.p_yes(ims, ["q1", "q2"])))
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first = [float(x) for x in run.stdout.strip().splitlines()[-1].strip("[]").split(",")]
    judge = load_judge(folder, cache=AnswerCache(db))
    asked = []
    judge._forward = lambda ims, qs: asked.extend(qs) or [0.25] * len(qs)
    again = judge.p_yes(images(2), ["q1", "q2"])
    assert again == first and asked == []  # read back, nothing recomputed
    assert judge.p_yes(images(2), ["q1", "q3"]) == [first[0], 0.25] and asked == ["q3"]
    other = load_judge(folder, dtype=torch.bfloat16, cache=AnswerCache(db))
    assert other.identity != judge.identity  # another dtype is another judge: its answers are not reused


def test_rses_vlm_metrics_with_the_twin_and_the_run_record():
    rng = np.random.default_rng(0)
    mask = np.zeros((48, 64), bool)
    mask[8:30, 10:40] = True
    items = [
        dict(
            sample_id=f"s{i}",
            source=rng.integers(0, 256, (48, 64, 3), dtype=np.uint8),
            edited=rng.integers(0, 256, (48, 64, 3), dtype=np.uint8),
            mask=mask,
            style=style,
        )
        for i, style in enumerate(["pixel-art", "line-art"])
    ]
    scorer = RSES(metrics="vlm", smoke=True, batch_size=3)
    rows = scorer.score_batch(items)
    names = ["vlm_obj_target", "vlm_bg_target", "vlm_obj_opposite", "vlm_bg_opposite", "vlm_localized"]
    for row in rows:
        assert list(row) == names and all(0.0 <= v <= 1.0 for v in row.values())
        assert row["vlm_localized"] == pytest.approx(min(row["vlm_obj_target"], 1 - row["vlm_bg_target"]))
    single = [RSES(metrics="vlm", smoke=True, batch_size=1).score(**item) for item in items]
    for a, b in zip(rows, single, strict=True):
        assert list(a.values()) == pytest.approx(list(b.values()), abs=BATCH_TOLERANCE)
    cfg = scorer.config()["vlm"]
    assert cfg["revision"] == "cc594898137f460bfe9f0759e9844b3ce807cfb5"
    assert cfg["opposites"]["pixel-art"] == "expressionism" and cfg["questions"] == QUESTIONS
    assert "<|vision_start|><|image_pad|><|vision_end|>" in cfg["prompt_example"]
    assert cfg["prompt_example"].endswith("<|im_start|>assistant\n")
    assert "{% for message in messages %}" in cfg["chat_template"] and cfg["snapshot"] is None


def test_all_leaves_the_vlm_out_and_vlm_selects_it():
    from rses.metrics import select_metrics

    assert not any(m.startswith("vlm_") for m in select_metrics("all"))
    assert select_metrics("vlm")[-1] == "vlm_localized"


def test_missing_judge_weights_message(tmp_path, monkeypatch):
    monkeypatch.delenv("RSES_VLM_WEIGHTS", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    scorer = RSES(metrics="vlm_obj_target")
    assert [s.name for s in scorer.weights()] == ["VLM judge Qwen2.5-VL-7B-Instruct"]
    with pytest.raises(WeightsNotFoundError) as err:
        scorer.check_weights()
    message = str(err.value)
    for part in (
        "Qwen/Qwen2.5-VL-7B-Instruct (revision cc594898137f460bfe9f0759e9844b3ce807cfb5)",
        "HF_HUB_OFFLINE is set",
        "--revision cc594898137f460bfe9f0759e9844b3ce807cfb5",
        "--vlm-weights PATH or RSES_VLM_WEIGHTS=PATH",
    ):
        assert part in message
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsNotFoundError, match=r"is not a transformers model folder"):
        RSES(metrics="vlm", vlm_weights=str(tmp_path / "empty")).check_weights()


def test_tables_name_the_judge_as_the_metric_backend():
    from rses.report.runs import metric_backend

    meta = {
        "metric_info": {"vlm_obj_target": {"group": "vlm"}},
        "metric_config": {"vlm": {"model": "Qwen/Qwen2.5-VL-7B-Instruct", "revision": "cc594898137f4"}},
    }
    assert metric_backend(meta) == "VLM Qwen/Qwen2.5-VL-7B-Instruct@cc59489"


def test_the_twin_folder_is_rebuilt_when_left_incomplete(tmp_path):
    folder = tiny_qwen_vl_dir(tmp_path)
    (folder / ".complete").unlink()
    (folder / "model.safetensors").write_bytes(b"torn")
    again = tiny_qwen_vl_dir(tmp_path)
    assert (
        again == folder
        and (folder / ".complete").is_file()
        and (folder / "model.safetensors").stat().st_size > 4
    )


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (
            {"vlm_questions": {"object": "Is the {thing} in {style} style?", "background": "Is it {style}?"}},
            r"vlm_questions\['object'\] .*\{thing\}.*only \{style\}",
        ),
        (
            {"vlm_questions": {"object": "Is it styled?", "background": "Is it {style}?"}},
            r"vlm_questions\['object'\] .*must name the style with \{style\}",
        ),
        (
            {"vlm_questions": {"object": "Is it {style}? {", "background": "Is it {style}?"}},
            r"vlm_questions\['object'\]",
        ),
        ({"vlm_max_pixels": 0}, r"vlm_max_pixels must be at least 784"),
        ({"vlm_max_pixels": -5}, r"vlm_max_pixels must be at least 784"),
        ({"vlm_opposites": {"pixel-art": 3}}, r"vlm_opposites must map style names to style names"),
    ],
)
def test_vlm_options_are_checked_when_the_suite_is_made(options, match):
    """Before: a question with another placeholder raised KeyError, a pixel budget under the processor's
    minimum a transformers ValueError, a non-string opposite AttributeError, all at scoring time per sample."""
    with pytest.raises(UsageError, match=match) as err:
        RSES(metrics="vlm", smoke=True, **options)
    assert "\n" not in str(err.value)
