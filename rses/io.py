"""Reading and writing images and masks, with the checks every entry point relies on.

Images load as ``(H, W, 3)`` ``uint8`` RGB (EXIF orientation applied; grayscale, palette, RGBA and 16-bit
converted), masks as ``(H, W)`` bool. A pixel limit guards against decompression bombs.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.png"
    >>> save_mask(p, np.eye(3, dtype=bool))
    >>> load_mask(p).sum()
    np.int64(3)
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from rses.errors import InvalidSampleError

MAX_PIXELS = int(os.environ.get("RSES_MAX_PIXELS", 64_000_000))


def _open(path: Path, what: str) -> Image.Image:
    Image.MAX_IMAGE_PIXELS = None  # our own limit below gives the clearer message
    try:
        img = Image.open(path)
        if img.width * img.height > MAX_PIXELS:
            raise InvalidSampleError(
                f"{what} {path} is {img.width}x{img.height} = {img.width * img.height} pixels, over the limit of "
                f"{MAX_PIXELS} (a possible decompression bomb). Raise RSES_MAX_PIXELS if the file is trusted."
            )
        img.load()
    except InvalidSampleError:
        raise
    except FileNotFoundError as err:
        raise InvalidSampleError(f"{what} {path} does not exist.") from err
    except (OSError, ValueError, SyntaxError) as err:
        raise InvalidSampleError(f"{what} {path} cannot be read as an image ({err}).") from err
    return ImageOps.exif_transpose(img)


def to_rgb_uint8(img: Image.Image) -> np.ndarray:
    """Convert any PIL image (L, P, RGBA, I;16, F, ...) to ``(H, W, 3)`` uint8 RGB."""
    if img.mode in {"I;16", "I;16B", "I;16L", "I"}:
        arr = np.asarray(img, dtype=np.float64)
        scale = 65535.0 if arr.max() > 255 else 255.0
        arr = np.clip(arr / scale * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode == "F":
        arr = np.clip(np.asarray(img, dtype=np.float64) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode in {"RGBA", "LA", "PA"} or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def load_image(path: str | Path) -> np.ndarray:
    """Load an image file as ``(H, W, 3)`` uint8 RGB; transparent areas are composited on white."""
    return to_rgb_uint8(_open(Path(path), "Image"))


def load_mask(path: str | Path, threshold: float | None = None) -> np.ndarray:
    """Load a mask as ``(H, W)`` bool.

    A mask must be binary (two values at most: 0 and one other) unless ``threshold`` in [0, 1] is given,
    in which case pixels above ``threshold * max_value`` are the object.

    Raises:
        InvalidSampleError: unreadable file, or a non-binary mask without ``threshold``.
    """
    img = _open(Path(path), "Mask")
    if img.mode in {"RGBA", "LA"}:
        img = img.getchannel("A") if np.asarray(img.getchannel("A")).min() < 255 else img.convert("L")
    arr = np.asarray(img if img.mode in {"I;16", "I;16B", "I;16L", "I", "F", "L", "1"} else img.convert("L"))
    arr = arr.astype(np.float64)
    if threshold is not None:
        limit = 65535.0 if arr.max() > 255 else (1.0 if arr.max() <= 1 else 255.0)
        return arr > threshold * limit
    values = np.unique(arr)
    if len(values) > 2 or (len(values) == 2 and values[0] != 0):
        raise InvalidSampleError(
            f"Mask {path} is not binary: it has {len(values)} distinct values "
            f"(min {values.min():g}, max {values.max():g}). Pass a threshold (--mask-threshold 0.5) to binarize it."
        )
    return arr > 0


def write_atomic(path: str | Path, data: str | bytes | memoryview, durable: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so readers never see half a file.

    ``durable`` also fsyncs the file before the rename, so it survives a machine crash. Files that can be
    rebuilt (a run's tables) skip it: on ext4 an fsync also flushes every other file written since the last
    one, e.g. all the edits of a run.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fh = open(tmp, "wb")
    except FileNotFoundError:  # the folder is made only when missing: no system call in the usual case
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(tmp, "wb")
    with fh:
        fh.write(data.encode() if isinstance(data, str) else data)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def save_image(path: str | Path, image: np.ndarray, compress_level: int = 6) -> None:
    """Save a ``(H, W, 3)`` RGB or ``(H, W)`` gray uint8 array as PNG, atomically (a temporary file, then a
    rename, so readers never see half a file). ``compress_level`` 0 writes fastest (no filtering, stored
    deflate blocks: ~0.4 ms for 256x256 RGB), 9 smallest."""
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_PNG_COMPRESSION, compress_level]
    if compress_level == 0:
        params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
    ok, encoded = cv2.imencode(".png", array, params)
    if not ok:
        raise InvalidSampleError(f"Cannot encode an array of shape {array.shape} as PNG for {path}.")
    write_atomic(path, encoded.data, durable=False)


def save_mask(path: str | Path, mask: np.ndarray) -> None:
    """Save a bool mask as a 0/255 8-bit PNG."""
    save_image(path, np.where(mask, 255, 0).astype(np.uint8))
