"""Calibrate the preservation constants of ``rses`` / ``rses_ref`` / ``rses_ref_lpips`` on the built-in split.

For one sample per test object (styles rotating), it builds edits whose object is the pseudo-GT target and
whose background is damaged by a constructed failure at several strengths (global restyle blended in, a blurred
background, the image shifted, a colour cast, a halo of the style leaking past the mask), plus the four
reference editors, and scores them with real AlexNet LPIPS and the pixel metrics. It writes
``docs/calibration-curves.png`` (score against strength, per failure) and ``docs/calibration.json`` (every
mean), and prints the tables quoted in ``docs/metrics.md``.

Usage (about 10 minutes on 2 busy CPU cores)::

    python docs/calibrate_preservation.py --lpips-weights ../shared/weights/alexnet-owt-7be5be79.safetensors
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from baselines.reference import paste_style
from baselines.stylize import stylize
from rses.data.manifest import load_split
from rses.metrics import MetricSuite
from rses.metrics.rses_score import psnr_preservation, rses_ref_lpips_score, rses_ref_score

DOCS = Path(__file__).resolve().parent
STRENGTHS = {
    "global restyle (alpha)": (0.1, 0.25, 0.5, 1.0),
    "blurred background (sigma px)": (0.5, 1.0, 2.0, 4.0),
    "shifted image (px)": (1, 2, 4, 8),
    "colour cast (red +)": (0.02, 0.05, 0.1, 0.2),
    "boundary halo (px)": (2, 4, 8, 16),
}


def damage(
    kind: str, strength: float, source: np.ndarray, styled: np.ndarray, target: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """The target (a perfect object) with its background damaged by ``kind`` at ``strength``."""
    f = source.astype(np.float64)
    if kind.startswith("global"):
        background = (1 - strength) * f + strength * styled
    elif kind.startswith("blurred"):
        background = cv2.GaussianBlur(f, (0, 0), strength)
    elif kind.startswith("shifted"):
        s = int(strength)
        return np.pad(target, ((0, 0), (s, 0), (0, 0)), mode="edge")[:, : target.shape[1]]
    elif kind.startswith("colour"):
        background = f + np.array([255 * strength, 0, 0])
    else:  # halo: the stylized photo shows in a ring of ``strength`` px around the mask
        ring = cv2.dilate(mask.astype(np.uint8), np.ones((2 * int(strength) + 1,) * 2, np.uint8)) > 0
        background = np.where(ring[..., None], styled, f)
    out = np.clip(np.rint(background), 0, 255).astype(np.uint8)
    return np.where(mask[..., None], target, out)


def samples(split: str, every: int = 1):
    """One sample per object (every ``every``-th object), the style rotating with the object's index."""
    rows = load_split(split).samples
    objects = list(dict.fromkeys((s.image_id, s.object_name) for s in rows))
    chosen = []
    for i, key in enumerate(objects):
        of_object = [s for s in rows if (s.image_id, s.object_name) == key]
        chosen.append(of_object[i % len(of_object)])
    return chosen[::every]


def measure(split: str, weights: str, every: int) -> list[dict]:
    suite = MetricSuite(metrics=["lpips_bg", "psnr_bg", "ref_gain"], lpips_weights=weights)
    rows = []
    for sample in samples(split, every):
        source, mask, target = sample.load_source(), sample.load_mask(), sample.load_target()
        styled = stylize(source, sample.style)
        edits = {
            ("reference", "identity"): source,
            ("reference", "clone-style"): target,
            ("reference", "paste-style"): paste_style(source, mask, sample.style),
            ("reference", "global-style"): styled,
        }
        for kind, strengths in STRENGTHS.items():
            for s in strengths:
                edits[(kind, s)] = damage(kind, s, source, styled.astype(np.float64), target, mask)
        for (kind, strength), edited in edits.items():
            v = suite.score(sample.id, source, edited, mask, sample.style, target)
            rows.append({"sample": sample.id, "kind": kind, "strength": strength, **v})
        print(f"{sample.id}: {len(edits)} edits", flush=True)
    return rows


def add_scores(rows: list[dict], ceiling: float, floor: float, ceil: float) -> None:
    for r in rows:
        r["rses_ref"] = rses_ref_score(r["ref_gain"], r["psnr_bg"], floor, ceil)
        r["rses_ref_lpips"] = rses_ref_lpips_score(r["ref_gain"], r["lpips_bg"], ceiling)
        r["P_psnr"] = psnr_preservation(r["psnr_bg"], floor, ceil)


def order_accuracy(rows: list[dict], score: str, kinds: tuple[str, ...] = tuple(STRENGTHS)) -> float:
    """Share of pairs (same sample and failure, weaker vs stronger; or clone-style vs any failure) the score
    orders strictly right: ties count as wrong, since a saturated score cannot tell the two apart."""
    by = {(r["sample"], r["kind"], r["strength"]): r[score] for r in rows}
    good = total = 0
    for sample in {r["sample"] for r in rows}:
        clone = by[(sample, "reference", "clone-style")]
        for kind in kinds:
            values = [by[(sample, kind, s)] for s in STRENGTHS[kind]]
            pairs = [(values[i], values[j]) for i in range(len(values)) for j in range(i + 1, len(values))]
            pairs += [(clone, v) for v in values]
            good += sum(a > b for a, b in pairs)
            total += len(pairs)
    return good / total


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = ["lpips_bg", "psnr_bg", "rses_ref", "rses_ref_lpips"]
    fig, axes = plt.subplots(len(scores), len(STRENGTHS), figsize=(15, 10), sharey="row")
    for c, (kind, strengths) in enumerate(STRENGTHS.items()):
        for r, score in enumerate(scores):
            ax = axes[r, c]
            values = [[x[score] for x in rows if x["kind"] == kind and x["strength"] == s] for s in strengths]
            ax.boxplot(values, showfliers=False)
            ax.set_xticks(range(1, len(strengths) + 1), [str(s) for s in strengths])
            for name, style in (("clone-style", "g--"), ("global-style", "r:")):
                ref = np.median([x[score] for x in rows if x["strength"] == name])
                ax.axhline(
                    min(ref, 60) if score == "psnr_bg" else ref,
                    color=style[0],
                    ls=style[1:],
                    lw=1,
                    label=name,
                )
            if r == 0:
                ax.set_title(kind, fontsize=9)
            if c == 0:
                ax.set_ylabel(score)
            if score == "psnr_bg":
                ax.set_ylim(0, 62)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(
        "Built-in test split: object = pseudo-GT target, background damaged (box: quartiles, median)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lpips-weights", required=True, help="torchvision AlexNet .safetensors")
    parser.add_argument("--split", default="test")
    parser.add_argument("--every", type=int, default=2, help="use every n-th object (default 2: 19 of 38)")
    parser.add_argument("--cache", type=Path, default=None, help="reuse (or write) the measured rows")
    args = parser.parse_args()
    if args.cache and args.cache.exists():
        rows = json.loads(args.cache.read_text())
    else:
        rows = measure(args.split, args.lpips_weights, args.every)
        if args.cache:
            args.cache.write_text(json.dumps(rows))
    from rses.metrics.rses_score import LPIPS_CEILING, PSNR_CEIL, PSNR_FLOOR

    add_scores(rows, LPIPS_CEILING, PSNR_FLOOR, PSNR_CEIL)
    means = {}
    for kind in ["reference", *STRENGTHS]:
        for s in dict.fromkeys(r["strength"] for r in rows if r["kind"] == kind):
            sel = [r for r in rows if r["kind"] == kind and r["strength"] == s]
            means[f"{kind} | {s}"] = {
                k: float(np.median([r[k] for r in sel]))
                for k in ("lpips_bg", "psnr_bg", "ref_gain", "rses_ref", "rses_ref_lpips")
            }
    print("| edit | strength | " + " | ".join(next(iter(means.values()))) + " |")
    print("|---|---|" + "---:|" * len(next(iter(means.values()))))
    for name, m in means.items():
        cells = " | ".join(f"{v:.3f}" if abs(v) < 90 else f"{v:.0f}" for v in m.values())
        print(f"| {name} | {cells} |")
    global_lpips = [r["lpips_bg"] for r in rows if r["strength"] == "global-style"]
    global_psnr = [r["psnr_bg"] for r in rows if r["strength"] == "global-style"]
    summary = {
        "n_samples": len({r["sample"] for r in rows}),
        "global_style_lpips_bg_quartiles": np.percentile(global_lpips, [25, 50, 75]).tolist(),
        "global_style_psnr_bg_quartiles": np.percentile(global_psnr, [25, 50, 75]).tolist(),
        "constants": {"lpips_ceiling": LPIPS_CEILING, "psnr_floor": PSNR_FLOOR, "psnr_ceil": PSNR_CEIL},
        "order_accuracy": {s: order_accuracy(rows, s) for s in ("rses_ref", "rses_ref_lpips")},
        "order_accuracy_per_failure": {
            kind: {s: order_accuracy(rows, s, (kind,)) for s in ("rses_ref", "rses_ref_lpips")}
            for kind in STRENGTHS
        },
        "medians": means,
    }
    print(
        json.dumps({k: v for k, v in summary.items() if k not in ("medians", "order_accuracy_per_failure")})
    )
    print("\n| failure | rses_ref | rses_ref_lpips |\n|---|---:|---:|")
    for kind, acc in summary["order_accuracy_per_failure"].items():
        print(f"| {kind} | {acc['rses_ref']:.3f} | {acc['rses_ref_lpips']:.3f} |")
    acc = summary["order_accuracy"]
    print(f"| **all** | **{acc['rses_ref']:.3f}** | **{acc['rses_ref_lpips']:.3f}** |")
    (DOCS / "calibration.json").write_text(json.dumps(summary, indent=1) + "\n")
    plot(rows, DOCS / "calibration-curves.png")


if __name__ == "__main__":
    main()
