"""A reproducible VLM judge: yes/no style questions answered as P(Yes) from the first answer token's logits.

The paper's controllability test asks Qwen2.5-VL-7B-Instruct four questions per edit (is the object / the
background in the target / the "opposite" style) and reports the share of "yes". Here nothing is sampled and
no free text is parsed: the prompt is the model's own chat template with one image and one question, one
forward pass gives the logits of the first answer token, and

    P(yes) = softmax(logit["Yes"], logit["No"])[0]        in [0, 1]

is stored per sample; an answer counts as "yes" when ``P(yes) > 0.5`` (:data:`YES_THRESHOLD`) for shares and
McNemar's test. The judge sees two views of the edit (:func:`region_views`): the padded object crop with the
non-object pixels painted grey (:data:`GREY`), and the whole image with the object painted grey. Answers are
cached on disk per (judge identity, question, image digest) (:class:`AnswerCache`), so re-scoring a run or adding
a method only asks about new images. Wording, opposites and the region policy: ``docs/metrics.md``.

Example:
    >>> import torch
    >>> round(float(p_yes_from_logits(torch.tensor([[2.0, 0.0]]))[0]), 4)
    0.8808
    >>> opposite_style("pixel-art")
    'expressionism'
    >>> question_text(QUESTIONS["object"], "line-art")
    'The grey area is masked out. Is the object in this image drawn in line art style? Answer Yes or No.'
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rses.errors import UsageError, WeightsNotFoundError
from rses.metrics.catalog import YES_THRESHOLD
from rses.metrics.leakage import background_image
from rses.metrics.rsm import object_crop
from rses.metrics.suite_config import MAX_PIXELS, MIN_PIXELS, OPPOSITES, QUESTIONS, RSM_PADDING
from rses.weights import QWEN_VL_JUDGE, WeightSpec, resolve_weights

logger = logging.getLogger(__name__)

#: metric -> (view, which style) of its question.
VLM_QUESTIONS: dict[str, tuple[str, str]] = {
    "vlm_obj_target": ("object", "target"),
    "vlm_bg_target": ("background", "target"),
    "vlm_obj_opposite": ("object", "opposite"),
    "vlm_bg_opposite": ("background", "opposite"),
}
GREY = (128, 128, 128)
_MIN_SIDE, _MAX_ASPECT = 28, 100  # Qwen's resizer refuses sides below 28 px and aspect ratios above 200


def p_yes_from_logits(yes_no_logits: torch.Tensor) -> torch.Tensor:
    """``(N, 2)`` logits of ("Yes", "No") -> ``(N,)`` float32 P(yes), softmax over the two."""
    return torch.softmax(yes_no_logits.float(), dim=-1)[:, 0]


def question_text(template: str, style: str) -> str:
    """The question for one style: ``template`` with ``{style}`` filled in (hyphens read as spaces)."""
    return template.format(style=style.replace("-", " "))


def check_options(questions: Mapping[str, str], opposites: Mapping[str, str], max_pixels: int) -> None:
    """Refuse, when the suite is made, judge options that would fail at scoring time.

    Raises:
        UsageError: a question that is not a template naming ``{style}`` (and nothing else), an opposite that
            is not a style name, or a pixel budget under the processor's minimum (28 x 28).
    """
    import string

    for key, template in questions.items():
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
        except (TypeError, ValueError) as err:
            raise UsageError(
                f"vlm_questions[{key!r}] {template!r} is not a question template ({err}); write "
                "the style as {style} and double any other brace."
            ) from None
        if fields != {"style"}:
            others = sorted("{" + f + "}" for f in fields - {"style"})
            problem = (
                f"has the placeholder(s) {others}; only {{style}} is filled in"
                if others
                else "must name the style with {style}"
            )
            raise UsageError(f"vlm_questions[{key!r}] {template!r} {problem} (double a literal brace).")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in opposites.items()):
        raise UsageError(f"vlm_opposites must map style names to style names, got {dict(opposites)!r}.")
    if max_pixels < MIN_PIXELS:
        raise UsageError(
            f"vlm_max_pixels must be at least {MIN_PIXELS} (28 x 28, the processor's minimum), got "
            f"{max_pixels}."
        )


def opposite_style(style: str, opposites: Mapping[str, str] = OPPOSITES) -> str:
    """The opposite of ``style``.

    Raises:
        UsageError: the style has no opposite, naming the known ones and how to add one.
    """
    if style not in opposites:
        raise UsageError(
            f"Style {style!r} has no opposite style for the VLM opposite-style questions; known: "
            f"{', '.join(sorted(opposites))}. Pass MetricSuite(vlm_opposites={{...}}) with an entry for "
            "it, or select only vlm_obj_target, vlm_bg_target."
        )
    return opposites[style]


def localized(p_obj_target: float, p_bg_target: float) -> float:
    """``min(P(object styled), 1 - P(background styled))``: above 0.5 exactly when both answers are right."""
    return min(p_obj_target, 1.0 - p_bg_target)


def _judge_view(image: np.ndarray) -> np.ndarray:
    """Pad (grey) a view whose aspect ratio Qwen's resizer refuses; upscale one with a side below 28 px."""
    h, w = image.shape[:2]
    if max(h, w) > _MAX_ASPECT * min(h, w):
        side = max(h, w) // _MAX_ASPECT + 1
        out = np.full((max(h, side), max(w, side), 3), GREY, np.uint8)
        out[:h, :w] = image
        image, (h, w) = out, out.shape[:2]
    if min(h, w) < _MIN_SIDE:
        from PIL import Image

        scale = _MIN_SIDE / min(h, w)
        size = (max(_MIN_SIDE, round(w * scale)), max(_MIN_SIDE, round(h * scale)))
        image = np.array(Image.fromarray(image).resize(size, Image.Resampling.NEAREST))
    return np.ascontiguousarray(image)


def region_views(
    edited: np.ndarray, mask: torch.Tensor, padding: float = RSM_PADDING
) -> dict[str, np.ndarray]:
    """The two views the judge sees of a uint8 ``(H, W, 3)`` edit and its ``(H, W)`` bool mask.

    ``object``: the mask's box padded by ``padding`` (as RSM), non-object pixels grey; ``background``: the whole
    image with the object grey. Both keep the aspect ratio (Qwen's processor resizes them to its pixel budget).
    """
    return {
        "object": _judge_view(object_crop(edited, mask, padding, GREY)),
        "background": _judge_view(background_image(edited, mask, GREY)),
    }


def image_digest(image: np.ndarray) -> str:
    """sha256 of a uint8 image's shape and bytes."""
    h = hashlib.sha256(str(image.shape).encode())
    h.update(np.ascontiguousarray(image, dtype=np.uint8).data)
    return h.hexdigest()


def default_answer_cache() -> Path:
    """``$RSES_CACHE_DIR/vlm/answers.sqlite`` or ``~/.cache/rses/vlm/answers.sqlite``."""
    from rses.io import cache_root

    return cache_root() / "vlm" / "answers.sqlite"


class AnswerCache:
    """P(yes) on disk (SQLite, safe across processes) keyed by (judge identity, question, image digest)."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path or default_answer_cache())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS answers (judge TEXT, question TEXT, image TEXT, p_yes REAL, "
                "PRIMARY KEY (judge, question, image))"
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection that commits on success and is closed after (SQLite locks the file per write)."""
        db = sqlite3.connect(self.path, timeout=120)
        try:
            with db:
                yield db
        finally:
            db.close()

    def get(self, judge: str, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], float]:
        """The cached answers among ``keys`` = (question, image digest) pairs."""
        found = {}
        with self._connect() as db:
            for question, image in keys:
                row = db.execute(
                    "SELECT p_yes FROM answers WHERE judge=? AND question=? AND image=?",
                    (judge, question, image),
                ).fetchone()
                if row is not None:
                    found[(question, image)] = row[0]
        return found

    def put(self, judge: str, answers: Mapping[tuple[str, str], float]) -> None:
        """Store the judge's answers, keyed by ``(question, image digest)``."""
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)",
                [(judge, q, i, float(p)) for (q, i), p in answers.items()],
            )


class VlmJudge:
    """A Qwen2.5-VL model and processor that answer yes/no questions about images, ``batch_size`` at a time.

    Args:
        model, processor: a ``Qwen2_5_VLForConditionalGeneration`` (eval) and its ``AutoProcessor``.
        identity: what keys the answer cache: the weights' fingerprint, dtype, pixel budget, chat template.
        cache: where answers are kept (``None``: not kept).
    """

    def __init__(
        self,
        model: Any,
        processor: Any,
        identity: str,
        cache: AnswerCache | None = None,
        batch_size: int = 4,
        weights: str | None = None,
    ):
        self.model, self.processor, self.cache, self.batch_size = model, processor, cache, max(1, batch_size)
        self.identity, self.weights = identity, weights
        self.processor.tokenizer.padding_side = "left"  # the last position is every row's answer position
        self.device = next(model.parameters()).device
        self.yes_no = [_single_token(self.processor.tokenizer, word) for word in ("Yes", "No")]

    def prompt(self, question: str) -> str:
        """The chat-template text of one image and ``question``, ending where the assistant's answer starts."""
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
        return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def p_yes(self, images: Sequence[np.ndarray], questions: Sequence[str]) -> list[float]:
        """P(yes) of each (image, question) pair; cached answers are read, the others computed and stored."""
        keys = [(q, image_digest(im)) for im, q in zip(images, questions, strict=True)]
        known = self.cache.get(self.identity, keys) if self.cache else {}
        first: dict[tuple[str, str], int] = {}
        for i, key in enumerate(keys):
            first.setdefault(key, i)
        missing = [key for key in first if key not in known]
        fresh: dict[tuple[str, str], float] = {}
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start : start + self.batch_size]
            probs = self._forward([images[first[k]] for k in chunk], [k[0] for k in chunk])
            fresh.update(zip(chunk, probs, strict=True))
        if self.cache and fresh:
            self.cache.put(self.identity, fresh)
        return [known.get(key, fresh.get(key)) for key in keys]

    @torch.inference_mode()
    def _forward(self, images: Sequence[np.ndarray], questions: Sequence[str]) -> list[float]:
        inputs = self.processor(
            text=[self.prompt(q) for q in questions], images=list(images), return_tensors="pt", padding=True
        ).to(self.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        logits = self.model(**inputs, use_cache=False, logits_to_keep=1).logits[:, -1]
        return p_yes_from_logits(logits[:, self.yes_no]).cpu().tolist()


def _single_token(tokenizer: Any, word: str) -> int:
    ids = tokenizer.encode(word, add_special_tokens=False)
    if len(ids) != 1:
        raise UsageError(
            f"The VLM judge's tokenizer splits {word!r} into {len(ids)} tokens {ids}; the yes/no "
            "judge needs it as one token (use a Qwen2.5-VL tokenizer)."
        )
    return ids[0]


def judge_fingerprint(folder: Path) -> str:
    """A cheap content fingerprint of a model folder: each file's name, size and the sha256 of its first MiB."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        with open(path, "rb") as fh:
            head = fh.read(1 << 20)
        h.update(f"{path.relative_to(folder)}:{path.stat().st_size}:".encode())
        h.update(hashlib.sha256(head).digest())
    return h.hexdigest()[:16]


def resolve_judge(
    spec: WeightSpec = QWEN_VL_JUDGE, ref: str | None = None, allow_pickle: bool = False
) -> Path:
    """The judge's model folder (a hub snapshot or a local directory holding ``config.json``)."""
    path = resolve_weights(spec, ref, allow_pickle=allow_pickle)
    if not (path.is_dir() and (path / "config.json").is_file() and any(path.glob("*.safetensors"))):
        raise WeightsNotFoundError(
            f"Weights for {spec.name} not found: {path} is not a transformers model folder "
            f"(config.json and *.safetensors). Point {spec.flag} / {spec.env_var} at one."
        )
    return path


def load_judge(
    folder: Path,
    device: str = "cpu",
    dtype: torch.dtype | None = None,
    batch_size: int = 4,
    max_pixels: int = MAX_PIXELS,
    cache: AnswerCache | None = None,
) -> VlmJudge:
    """Load a Qwen2.5-VL folder as a :class:`VlmJudge` (bf16 on GPU, float32 on CPU unless ``dtype`` says)."""
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the "Loading weights" bar would interleave with the run's own
    dtype = dtype or (torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32)
    processor = AutoProcessor.from_pretrained(
        folder, local_files_only=True, size={"shortest_edge": MIN_PIXELS, "longest_edge": max_pixels}
    )
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
        folder, dtype=dtype, use_safetensors=True, local_files_only=True
    )
    model = model.to(device).eval().requires_grad_(False)
    identity = json.dumps(
        {
            "weights": judge_fingerprint(Path(folder)),
            "dtype": str(dtype),
            "max_pixels": max_pixels,
            "template": processor.chat_template,
        },
        sort_keys=True,
    )
    return VlmJudge(
        model,
        processor,
        hashlib.sha256(identity.encode()).hexdigest()[:16],
        cache,
        batch_size,
        weights=str(folder),
    )


def judge_questions(
    style: str,
    wanted: Sequence[str],
    questions: Mapping[str, str] = QUESTIONS,
    opposites: Mapping[str, str] = OPPOSITES,
) -> dict[str, tuple[str, str]]:
    """``{metric: (view, question text)}`` for the wanted ``vlm_*`` question metrics of one style."""
    out = {}
    for metric in wanted:
        if metric in VLM_QUESTIONS:
            view, which = VLM_QUESTIONS[metric]
            asked = style if which == "target" else opposite_style(style, opposites)
            out[metric] = (view, question_text(questions[view], asked))
    return out


def judge_config(
    judge: VlmJudge | None, questions: Mapping[str, str], opposites: Mapping[str, str], max_pixels: int
) -> dict[str, Any]:
    """What the run record keeps about the judge: model, revision, wording, opposites, region policy, template."""
    cfg: dict[str, Any] = {
        "model": QWEN_VL_JUDGE.default.removeprefix("hf-hub:"),
        "revision": QWEN_VL_JUDGE.revision,
        "questions": dict(questions),
        "opposites": dict(opposites),
        "answer": "P(Yes) = softmax over the first answer token's ('Yes', 'No') logits; 'yes' when > 0.5",
        "yes_threshold": YES_THRESHOLD,
        "regions": f"object: padded box crop (padding {RSM_PADDING}), non-object pixels {GREY}; background: "
        f"whole image, object pixels {GREY}; aspect kept, at most {max_pixels} pixels",
    }
    if judge is not None:
        folder = Path(judge.weights or "")
        cfg |= {
            "identity": judge.identity,
            "resolved": judge.weights,
            "dtype": str(judge.model.dtype),
            "snapshot": folder.name if folder.parent.name == "snapshots" else None,
            "chat_template": judge.processor.chat_template,
            "prompt_example": judge.prompt(question_text(questions["object"], "pixel-art")),
        }
    return cfg
