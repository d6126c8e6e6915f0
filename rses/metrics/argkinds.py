"""What kind of value an array argument of the public API got, and the error when it is not the right array.

A file path passed where an image is expected would otherwise surface deep inside numpy or torch as a
"shape ()" or "unsupported operand" error; :func:`array_arguments` checks the arguments annotated as arrays
and names what was passed, what is expected, and how to load a file. Arguments annotated :data:`Image` or
:data:`Mask` take a NumPy array or a torch tensor (:mod:`rses.metrics.arrays`) of the right layout; those
annotated ``torch.Tensor`` need a tensor, ``np.ndarray`` any array.

Example:
    >>> import numpy as np
    >>> @array_arguments
    ... def total(image: Image) -> float:
    ...     return float(image.sum())
    >>> total(np.ones((3, 2, 2)))
    12.0
    >>> total("photo.png")
    Traceback (most recent call last):
    ...
    rses.errors.InvalidSampleError: total(image=...): got a str 'photo.png', expected an array (Image). \
To use an image file, load it first with rses.io.load_image(path) (a mask: rses.io.load_mask(path)).
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from rses.errors import InvalidSampleError
from rses.metrics.arrays import is_tensor

F = TypeVar("F", bound=Callable[..., Any])
Image = "np.ndarray | torch.Tensor"
"""A ``(C, H, W)`` float image in [0, 1]: a NumPy array, or a torch tensor on any device."""
Mask = "np.ndarray | torch.Tensor"
"""An ``(H, W)`` bool mask: a NumPy array, or a torch tensor on any device."""

LOAD_HINT = (
    "To use an image file, load it first with rses.io.load_image(path) (a mask: rses.io.load_mask(path))."
)

TENSOR_HINT = (
    "Score (H, W, 3) uint8 images with rses.metrics.MetricSuite(...).score(...), or get the arrays with "
    "rses.metrics.prepare_sample(sample_id, source, edited, mask) (its .source, .edited, .mask)."
)
_LAYOUTS = {
    "Image": (3, "float", "(C, H, W) float in [0, 1], C = 3 (or 1)"),
    "Mask": (2, "bool", "(H, W) bool"),
    "Tensor": (None, None, "torch.Tensor: (3, H, W) float in [0, 1] for an image, (H, W) bool for a mask"),
}


def not_an_array(value: Any) -> str | None:
    """``None`` when ``value`` is array-like (array, tensor, nested sequence, PIL image); else what it is.

    Example:
        >>> not_an_array("a.png"), not_an_array([[0, 1]])
        ("a str 'a.png'", None)
    """
    if isinstance(value, np.ndarray) or is_tensor(value):
        return None
    if isinstance(value, (str, bytes, os.PathLike)):
        return f"a {type(value).__name__} {os.fspath(value)!r}"
    if np.asarray(value, dtype=object).ndim == 0:
        shown = repr(value)
        return f"a {type(value).__name__} ({shown[:60] + '...' if len(shown) > 60 else shown})"
    return None


def wrong_layout(value: Any, kind: str) -> str | None:
    """``None`` when ``value`` fits ``kind`` (``Image``, ``Mask``, ``Tensor``); else what it is, with its shape.

    Example:
        >>> wrong_layout(np.zeros((3, 4, 4)), "Image"), wrong_layout(np.zeros((4, 4, 3)), "Image")
        (None, 'a channels-last float64 array of shape (4, 4, 3)')
        >>> wrong_layout(np.zeros((4, 4), np.uint8), "Mask")
        'a uint8 array of shape (4, 4)'
    """
    tensor = is_tensor(value)
    if not (tensor or isinstance(value, np.ndarray)):
        return f"a {type(value).__name__} of shape {np.shape(value)}"
    dtype = str(value.dtype).removeprefix("torch.")
    what = f"a {dtype} {'tensor' if tensor else 'array'} of shape {tuple(value.shape)}"
    if kind == "Tensor":
        return None if tensor else what
    ndim, family, _ = _LAYOUTS[kind]
    if value.ndim != ndim or family not in dtype:
        return what
    if kind == "Image" and value.shape[0] not in (1, 3):
        return f"a channels-last {what[2:]}"
    return None


def array_arguments(func: F) -> F:
    """Check, before ``func`` runs, that its arguments annotated as arrays got arrays of the right layout.

    Raises (from the wrapped function):
        InvalidSampleError: an array argument got a path or another non-array, or an array of another
            layout; the message names the function, the argument, the value and the remedy.
    """
    signature = inspect.signature(func)
    checked = {}
    for name, param in signature.parameters.items():
        annotation = str(param.annotation)
        kind = next((k for k in _LAYOUTS if k in annotation), "ndarray" if "ndarray" in annotation else None)
        if kind is not None:
            checked[name] = kind

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind_partial(*args, **kwargs)
        for name, kind in checked.items():
            if name not in bound.arguments:
                continue
            value = bound.arguments[name]
            if got := not_an_array(value):
                expected = signature.parameters[name].annotation
                raise InvalidSampleError(
                    f"{func.__name__}({name}=...): got {got}, expected an array ({expected}). {LOAD_HINT}"
                )
            if kind != "ndarray" and value is not None and (got := wrong_layout(value, kind)):
                raise InvalidSampleError(
                    f"{func.__name__}({name}=...): got {got}, expected "
                    f"{'a ' if kind == 'Tensor' else 'a NumPy array or torch tensor, '}{_LAYOUTS[kind][2]}. "
                    f"{TENSOR_HINT}"
                )
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
