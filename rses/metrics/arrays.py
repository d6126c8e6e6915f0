"""The two array kinds the pixel metrics compute on: NumPy arrays (the CPU path) and torch tensors (a GPU).

Each pixel metric is written once against its input's namespace, :func:`namespace` (``numpy`` or ``torch``:
every function the formulas use, ``where``, ``abs``, ``amax``, ``log10``, ``clip`` and ``sum(dtype=...)``, is
spelled alike in both); only the image filters dispatch on :func:`is_tensor` (OpenCV for NumPy, torch for
tensors). The choice follows the array's type, not its device, so the torch path also runs on CPU tensors.

torch is never imported here: a tensor exists only once its caller imported torch, so a pixel-only run on
NumPy arrays never loads it (``import torch`` alone costs ~650 MB with a CUDA build).

Example:
    >>> import numpy as np
    >>> namespace(np.zeros(2)).__name__, is_tensor(np.zeros(2))
    ('numpy', False)
    >>> import torch
    >>> namespace(torch.zeros(2)).__name__, [type(a).__name__ for a in same_kind(torch.zeros(2), np.ones(2))]
    ('torch', ['Tensor', 'Tensor'])
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

import numpy as np


def is_tensor(value: Any) -> bool:
    """Whether ``value`` is a torch tensor (``False`` without importing torch when torch is not loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def namespace(value: Any) -> ModuleType:
    """The module whose functions compute on ``value``: ``torch`` for a tensor, else ``numpy``."""
    return sys.modules["torch"] if is_tensor(value) else np


def same_kind(*arrays: Any) -> list[Any]:
    """``arrays`` as one kind: tensors on the first tensor's device if any is a tensor, else NumPy arrays.

    ``None`` entries stay ``None``. A NumPy array becomes a tensor without a copy on the CPU.
    """
    first = next((a for a in arrays if is_tensor(a)), None)
    if first is None:
        return [None if a is None else np.asarray(a) for a in arrays]
    torch = sys.modules["torch"]
    return [None if a is None else torch.as_tensor(a, device=first.device) for a in arrays]
