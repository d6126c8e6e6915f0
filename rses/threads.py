"""How many CPU threads a run uses: chosen per workload, settable with ``--threads``, recorded in the run.

PyTorch (and OpenCV) start one intra-op thread per core. That pays for learned models on the CPU (LPIPS, CLIP,
a diffusion editor), whose large matrix products split well across cores. It does not pay for the weight-free
work (pixel metrics, the reference editors, decoding and writing images): its operations are small, so the
threads spend their time waking and waiting. On a shared machine the waiting is ruinous: with one other busy
process on a 2-core VM, the README's pixel evaluation took 34-36 s with the default threads and 2.7 s with one
(measured by the issue that introduced this module). So:

- ``light`` work (no selected metric needs a model and the editor loads no weights) runs on
  :data:`LIGHT_THREADS` thread;
- ``learned`` work keeps PyTorch's default (one thread per physical core, or ``OMP_NUM_THREADS``);
- ``--threads N`` overrides both; ``N`` is recorded in run.json as ``threads``.

OpenCV's thread count is always set; PyTorch's only when torch is already loaded or the work is learned, so
a weight-free run on the CPU (which computes in NumPy and OpenCV) never imports torch for it.

Example:
    >>> choose_threads(requested=None, learned=False)
    1
    >>> choose_threads(requested=3, learned=False)
    3
"""

from __future__ import annotations

import functools
import sys

from rses.errors import UsageError

#: Threads for weight-free work: pixel metrics and reference editors gain nothing from a second thread.
LIGHT_THREADS = 1


@functools.cache
def default_threads() -> int:
    """PyTorch's own intra-op thread count (cores, or ``OMP_NUM_THREADS``), read before rses changes it."""
    import torch

    return torch.get_num_threads()


def choose_threads(requested: int | None, learned: bool) -> int:
    """The intra-op thread count for a run.

    Args:
        requested: ``--threads`` (``None``: choose by workload).
        learned: whether any model runs on the CPU (a learned metric, or an editor with weights).

    Raises:
        UsageError: ``requested`` is below 1.
    """
    if requested is not None:
        if requested < 1:
            raise UsageError(f"--threads must be >= 1, got {requested}.")
        return requested
    return default_threads() if learned else LIGHT_THREADS


def apply_threads(n: int, learned: bool = True) -> None:
    """Set OpenCV's intra-op thread count of this process to ``n``, and PyTorch's when torch is loaded or the
    work is ``learned`` (torch is not imported for light work).
    """
    import cv2

    cv2.setNumThreads(n)
    if learned or "torch" in sys.modules:
        import torch

        default_threads()  # remembered before the first change, so a later learned run gets it back
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
