"""What kind of value an array argument of the public API got, and the error when it is not an array.

A file path passed where an image is expected would otherwise surface deep inside numpy or torch as a
"shape ()" or "unsupported operand" error; :func:`array_arguments` checks the arguments annotated as arrays
and names what was passed, what is expected, and how to load a file.

Example:
    >>> import torch
    >>> @array_arguments
    ... def total(image: torch.Tensor) -> float:
    ...     return float(image.sum())
    >>> total("photo.png")
    Traceback (most recent call last):
    ...
    rses.errors.InvalidSampleError: total(image=...): got a str 'photo.png', expected an array (torch.Tensor). \
To use an image file, load it first with rses.io.load_image(path) (a mask: rses.io.load_mask(path)).
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch

from rses.errors import InvalidSampleError

F = TypeVar("F", bound=Callable[..., Any])
LOAD_HINT = (
    "To use an image file, load it first with rses.io.load_image(path) (a mask: rses.io.load_mask(path))."
)

TENSOR_HINT = (
    "Score numpy images with rses.metrics.MetricSuite(...).score(...), or get the tensors with "
    "rses.metrics.prepare_sample(sample_id, source, edited, mask) (its .source, .edited, .mask)."
)


def not_an_array(value: Any) -> str | None:
    """``None`` when ``value`` is array-like (array, tensor, nested sequence, PIL image); else what it is.

    Example:
        >>> not_an_array("a.png"), not_an_array([[0, 1]])
        ("a str 'a.png'", None)
    """
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return None
    if isinstance(value, (str, bytes, os.PathLike)):
        return f"a {type(value).__name__} {os.fspath(value)!r}"
    if np.asarray(value, dtype=object).ndim == 0:
        shown = repr(value)
        return f"a {type(value).__name__} ({shown[:60] + '...' if len(shown) > 60 else shown})"
    return None


def array_arguments(func: F) -> F:
    """Check, before ``func`` runs, that its arguments annotated ``torch.Tensor`` / ``np.ndarray`` got arrays.

    Raises (from the wrapped function):
        InvalidSampleError: an array argument got a path or another non-array; the message names the function,
            the argument, the value and the remedy.
    """
    signature = inspect.signature(func)
    checked = [
        name
        for name, param in signature.parameters.items()
        if any(kind in str(param.annotation) for kind in ("Tensor", "ndarray"))
    ]

    tensors_only = {n for n in checked if "ndarray" not in str(signature.parameters[n].annotation)}

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind_partial(*args, **kwargs)
        for name in checked:
            if name in bound.arguments and (got := not_an_array(bound.arguments[name])):
                expected = signature.parameters[name].annotation
                raise InvalidSampleError(
                    f"{func.__name__}({name}=...): got {got}, expected an array ({expected}). {LOAD_HINT}"
                )
            value = bound.arguments.get(name)
            if name in tensors_only and value is not None and not isinstance(value, torch.Tensor):
                shape = getattr(value, "shape", None) or np.shape(value)
                raise InvalidSampleError(
                    f"{func.__name__}({name}=...): got a {type(value).__name__} of shape {tuple(shape)}, expected a "
                    f"torch.Tensor ((3, H, W) float in [0, 1] for an image, (H, W) bool for a mask). {TENSOR_HINT}"
                )
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
