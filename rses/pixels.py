"""How pixels enter rses: the one decoder of image and mask files, and the one mask binariser.

Every reader of pixels (manifest checks, ``rses score``, the runner, the dataset builders, reports, training)
goes through this module, so a file means the same thing everywhere. The rules (also in docs/metrics.md,
"How rses reads pixels"):

- **Orientation.** The EXIF orientation tag (1-8, also read from XMP) is applied to every file, image or
  mask, exactly as :func:`PIL.ImageOps.exif_transpose` would: a 40x60 JPEG tagged "rotate 90" is a 60x40
  image, and its mask must be 60x40. :func:`image_size` gives that displayed size without decoding.
  Dataset annotations drawn on the stored pixels (COCO polygons/RLE, VOC and BIG label PNGs) are turned
  into the photo's displayed frame with :func:`orient` by the builders.
- **Bit depth.** Values are read at the file's own scale: 8-bit files divide by 255, 16-bit files (grey,
  48-bit RGB, 64-bit RGBA, grey+alpha) by 65535, always; float (``F``) files must lie in [0, 1]. Images
  are then quantised to 8 bits, ``round(255 * v)`` (for 16 bits: ``round(v16 / 257)``), the same way for
  every image of a pair: the metrics, the editors and the runner's outputs all work on 8-bit RGB, so a
  16-bit source compared with its 8-bit edit has no quantisation difference. A change smaller than half an
  8-bit step is therefore invisible to the pixel metrics.
- **Colour.** Images decode to ``(H, W, 3)`` uint8 RGB: greyscale is repeated on the three channels,
  palette images take their palette colours, CMYK uses Pillow's conversion ``R = round((255 - C) (255 - K) / 255)``,
  YCbCr Pillow's JPEG conversion. Embedded ICC profiles are not applied (values are taken as sRGB).
  LAB, HSV, 32-bit integer and other modes stop with one line, and so does a TIFF with an orientation
  tag other than 1 (Pillow and OpenCV turn some TIFF modes while decoding, not all). Only the first frame
  of an animated or multi-page file is read.
- **Alpha in images.** Transparency (an alpha channel, a palette or colour-key ``tRNS``) is composited on
  white: ``round(255 * (a * v + (1 - a)))`` with ``v``, ``a`` in [0, 1] at the file's scale.
- **Masks.** A mask is one value per pixel at the file's scale: the grey value; for RGB(A) and palette
  files the colour, which must be grey (``R = G = B`` everywhere, else an error: colour label maps are not
  masks); for files with an alpha channel (RGBA, LA, PA, a ``tRNS`` key) the alpha IS the mask (a cut-out
  from a matting tool) unless it is fully opaque, in which case it is ignored. CMYK, YCbCr and the modes
  images refuse are an error.
- **Binarising** (:func:`binarize`, for files and for arrays of the Python API): without a threshold the
  mask must hold at most two values, 0 and one other (the object); with ``threshold`` t in [0, 1] the object
  is ``value > t * range`` where the range comes from the dtype, never from the content: bool 1, uint8 255,
  uint16 65535, float 1 (values must lie in [0, 1]). So 0.5 on a uint16 matte cuts at 32767.5, and 0.5 on
  a 0/1 uint8 mask leaves it empty (an error saying so). Other integer dtypes have no range: binary only.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> from PIL import Image
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "matte.png"
    >>> Image.fromarray(np.array([[0, 30000, 40000]], np.uint16)).save(p)
    >>> load_mask(p, threshold=0.5).tolist()
    [[False, False, True]]
    >>> load_image(p)[0, :, 0].tolist()
    [0, 117, 156]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from rses.errors import InvalidSampleError

MAX_PIXELS = int(os.environ.get("RSES_MAX_PIXELS", 64_000_000))
ORIENTATION_TAG = 0x0112
_RANGES = {np.dtype(bool): 1, np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}
_16BIT_GREY = {"I;16", "I;16L", "I;16B", "I;16N"}
_COLOUR_ONLY = {"CMYK", "YCbCr"}  # decoded for images, never a mask


# ------------------------------------------------------------------------------------------ orientation
def orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Turn ``(H, W, ...)`` stored pixels into the displayed frame of EXIF ``orientation`` (1-8; others: 1).

    The same transform as :func:`PIL.ImageOps.exif_transpose`; 5-8 swap height and width.

    Example:
        >>> orient(np.array([[1, 2, 3]]), 6).tolist()  # 6: the camera was turned; display rotated 90 cw
        [[1], [2], [3]]
    """
    a = np.asarray(array)
    t = np.swapaxes(a, 0, 1)
    return {
        2: a[:, ::-1],
        3: a[::-1, ::-1],
        4: a[::-1],
        5: t,
        6: t[:, ::-1],
        7: t[::-1, ::-1],
        8: t[::-1],
    }.get(orientation, a)


def orientation(path: str | Path, what: str = "Image") -> int:
    """The EXIF orientation (1-8) of a file, 1 when it has none."""
    with _open(Path(path), what) as img:
        return _orientation(img)


def stored_frame(path: str | Path, what: str = "Image") -> tuple[tuple[int, int], int]:
    """``((height, width) of the stored pixels, EXIF orientation)``, without decoding the pixels."""
    with _open(Path(path), what) as img:
        return (img.height, img.width), _orientation(img)


def image_size(path: str | Path, what: str = "Image") -> tuple[int, int]:
    """``(width, height)`` as displayed (EXIF orientation applied), without decoding the pixels.

    Raises:
        InvalidSampleError: unreadable file, too many pixels, or a colour mode rses does not read.
    """
    with _open(Path(path), what) as img:
        if img.mode not in _CONVERSIONS and not _is_16bit(img.mode, _rawmode(img)):
            raise _unsupported(img.mode, Path(path), what)
        swap = _orientation(img) in (5, 6, 7, 8)
        return (img.height, img.width) if swap else img.size


# --------------------------------------------------------------------------------------------- images
def load_image(path: str | Path) -> np.ndarray:
    """Decode an image file to ``(H, W, 3)`` uint8 RGB by the module's rules (orientation, depth, alpha).

    Raises:
        InvalidSampleError: missing or unreadable file, too many pixels, a mode rses does not read, or float
            values outside [0, 1]. The message names the file.
    """
    path = Path(path)
    planes, scale, layout, _ = _decode(path, "Image")
    if layout in ("LA", "RGBA"):
        alpha = planes[..., -1:].astype(np.float64) / scale
        values = planes[..., :-1].astype(np.float64) / scale
        rgb = np.round(255 * (values * alpha + (1 - alpha)))
    elif planes.dtype == np.uint16:
        rgb = (planes.astype(np.uint32) + 128) // 257  # round(v / 257) exactly: v / 257 is never k + 0.5
    elif planes.dtype == np.float32:
        if not np.isfinite(planes).all() or planes.min() < 0 or planes.max() > 1:
            raise InvalidSampleError(
                f"Image {path} holds float values outside [0, 1] (min {np.nanmin(planes):g}, max "
                f"{np.nanmax(planes):g}); rses reads float images as [0, 1]: save it as 8- or 16-bit."
            )
        rgb = np.round(planes * 255)
    else:
        rgb = planes
    rgb = rgb.astype(np.uint8)
    return np.ascontiguousarray(np.repeat(rgb, 3, axis=2) if rgb.shape[2] == 1 else rgb)


def quantize(array: np.ndarray) -> np.ndarray:
    """uint16 values -> uint8, ``round(v / 257)`` (= ``round(255 * v / 65535)``), the rule for 16-bit files.

    Example:
        >>> quantize(np.array([0, 128, 129, 65535], np.uint16)).tolist()
        [0, 0, 1, 255]
    """
    return ((np.asarray(array, np.uint32) + 128) // 257).astype(np.uint8)


# ---------------------------------------------------------------------------------------------- masks
def mask_values(path: str | Path, stored: bool = False) -> np.ndarray:
    """A mask file's values, ``(H, W)``, in the file's dtype (uint8, uint16 or float32): the grey value, or
    the alpha when the file has a non-opaque alpha channel. Binarise with :func:`binarize`.

    ``stored=True`` skips the file's EXIF orientation (for dataset ground truth drawn on a photo's stored
    pixels, which the builders orient with the photo's own tag).

    Raises:
        InvalidSampleError: unreadable file, a coloured (non-grey) mask, or a mode rses does not read.
    """
    path = Path(path)
    planes, scale, layout, mode = _decode(path, "Mask", stored)
    if mode in _COLOUR_ONLY:
        raise InvalidSampleError(
            f"Mask {path} has colour mode {mode}, which rses does not read as a mask; save masks as greyscale "
            "PNG (object white, background black)."
        )
    if layout in ("LA", "RGBA"):
        if planes[..., -1].min() < scale:
            return planes[..., -1]
        planes = planes[..., :-1]
    if planes.shape[2] == 3:
        coloured = (planes[..., 0] != planes[..., 1]) | (planes[..., 1] != planes[..., 2])
        if coloured.any():
            y, x = (int(v) for v in np.argwhere(coloured)[0])
            raise InvalidSampleError(
                f"Mask {path} is coloured ({int(coloured.sum())} pixels with R, G, B unequal, e.g. "
                f"{tuple(int(v) for v in planes[y, x])} at row {y}, column {x}); a mask must be grey (object "
                "white or any non-zero grey, background black). Colour label maps are not masks: save the "
                "object as a greyscale PNG."
            )
    return planes[..., 0]


def binarize(
    values: Any, threshold: float | None = None, what: str = "Mask", hint: str | None = None
) -> np.ndarray:
    """THE mask binariser: ``(H, W)`` values -> bool, by the dtype's range (see the module docstring).

    Args:
        values: ``(H, W)`` array (bool, uint8, uint16, float, or another integer dtype when binary).
        threshold: in [0, 1]; the object is ``value > threshold * range(dtype)``. None: the values must
            be binary (at most two: 0 and one other).
        what: how errors name the mask, e.g. ``"Sample cat-7: mask"`` or ``"Mask masks/a.png"``.
        hint: the remedy for non-binary values where no threshold can be passed (default: pass one).

    Raises:
        InvalidSampleError: NaN/Inf values, float values outside [0, 1] with a threshold, a threshold on
            an integer dtype without a range, or non-binary values without a threshold.

    Example:
        >>> binarize(np.array([[0, 32767, 32768]], np.uint16), 0.5).tolist()
        [[False, False, True]]
    """
    arr = np.asarray(values)
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InvalidSampleError(f"{what} has NaN/Inf values.")
    if threshold is not None:
        if not 0 <= threshold <= 1:
            raise InvalidSampleError(f"{what}: the mask threshold must lie in [0, 1], got {threshold}.")
        if arr.dtype.kind == "f":
            if arr.min() < 0 or arr.max() > 1:
                raise InvalidSampleError(
                    f"{what} is a float mask with values outside [0, 1] (min {arr.min():g}, max {arr.max():g}); "
                    "a threshold cuts on [0, 1]: divide it by its range (255 for 8-bit values) first."
                )
            return arr > threshold
        if arr.dtype not in _RANGES:
            raise InvalidSampleError(
                f"{what} has dtype {arr.dtype}, which has no defined value range to apply the threshold "
                f"{threshold} on; pass it as bool, uint8 (0-255), uint16 (0-65535) or float in [0, 1]."
            )
        return arr > threshold * _RANGES[arr.dtype]
    values_seen = np.unique(arr)
    if len(values_seen) > 2 or (len(values_seen) == 2 and values_seen[0] != 0):
        scale = _RANGES.get(arr.dtype, 1)
        raise InvalidSampleError(
            f"{what} is not binary (it has {len(values_seen)} distinct values, min {values_seen.min():g}, max "
            f"{values_seen.max():g}). "
            + (
                hint
                or "Pass a threshold to binarize it (mask_threshold=0.5, CLI "
                f"--mask-threshold 0.5): it cuts on the {arr.dtype} range, 0.5 = "
                f"{0.5 * scale:g}."
            )
        )
    return arr > 0


def load_mask(path: str | Path, threshold: float | None = None, hint: str | None = None) -> np.ndarray:
    """Load a mask file as ``(H, W)`` bool: :func:`mask_values`, then :func:`binarize`.

    Raises:
        InvalidSampleError: as :func:`mask_values` and :func:`binarize`; the message names the file.
    """
    return binarize(mask_values(path), threshold, f"Mask {path}", hint)


def load_labels(path: str | Path, what: str = "Label map") -> np.ndarray:
    """A label map (VOC ``SegmentationClass`` / ``SegmentationObject``): ``(H, W)`` uint8 palette indices.

    Palette (``P``) files give their indices, greyscale (``L``) files their values. Read as stored (no EXIF
    orientation): label maps annotate a photo's stored pixels, and the builders orient them with the photo.

    Raises:
        InvalidSampleError: an RGB(A) or other file: label maps must hold indices, not colours.
    """
    path = Path(path)
    with _open(path, what) as img:
        if img.mode not in ("P", "L"):
            raise InvalidSampleError(
                f"{what} {path} is a {img.mode} image; labels must be palette indices (mode P, as the dataset "
                "ships them) or greyscale indices (mode L), not colours: use the original label PNGs "
                "rather than a colour-converted copy."
            )
        return np.array(_loaded(img, path, what), np.uint8)


# -------------------------------------------------------------------------------------------- decoding
def _open(path: Path, what: str) -> Image.Image:
    """Open ``path`` lazily (header only) after the pixel-limit check; errors name the file."""
    Image.MAX_IMAGE_PIXELS = None  # our own limit below gives the clearer message
    try:
        img = Image.open(path)
    except FileNotFoundError as err:
        raise InvalidSampleError(f"{what} {path} does not exist.") from err
    except (OSError, ValueError, SyntaxError) as err:
        raise InvalidSampleError(f"{what} {path} cannot be read as an image ({err}).") from err
    if img.width * img.height > MAX_PIXELS:
        img.close()
        raise InvalidSampleError(
            f"{what} {path} is {img.width}x{img.height} = {img.width * img.height} pixels, over the limit of "
            f"{MAX_PIXELS} (a possible decompression bomb). Raise RSES_MAX_PIXELS if the file is trusted."
        )
    if (
        img.format == "TIFF" and _orientation(img) != 1
    ):  # Pillow (and OpenCV) turn some TIFF modes on load, not all
        turn = _orientation(img)
        img.close()
        raise InvalidSampleError(
            f"{what} {path} is a TIFF with orientation {turn}, which rses does not read (TIFF decoders apply it "
            "for some colour modes only); save it as PNG or JPEG (EXIF orientation is applied), or as a TIFF "
            "with its pixels turned and orientation 1."
        )
    return img


def _loaded(img: Image.Image, path: Path, what: str) -> Image.Image:
    try:
        img.load()
    except (OSError, ValueError, SyntaxError) as err:
        raise InvalidSampleError(f"{what} {path} cannot be read as an image ({err}).") from err
    return img


def _orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(ORIENTATION_TAG, 1)
    except (OSError, ValueError, SyntaxError):  # a broken EXIF block: no orientation
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _rawmode(img: Image.Image) -> str:
    """How the decoder unpacks the file (e.g. ``RGB;16B`` for a 48-bit PNG); read before loading."""
    if not img.tile:
        return ""
    args = img.tile[0][3]
    raw = args[0] if isinstance(args, tuple) and args else args
    return raw if isinstance(raw, str) else ""


def _decode(path: Path, what: str, stored: bool = False) -> tuple[np.ndarray, float, str, str]:
    """``(planes (H, W, C) in the file's dtype, range of that dtype, layout L|LA|RGB|RGBA, Pillow mode)``,
    oriented unless ``stored``.
    """
    with _open(path, what) as img:
        rawmode, turn, mode = _rawmode(img), 1 if stored else _orientation(img), img.mode
        if ";16" in rawmode and img.mode in ("RGB", "RGBA", "LA"):  # Pillow would keep only the high byte
            planes = _decode_16bit(path, what, img.size)
        else:
            planes = _pil_planes(_loaded(img, path, what), path, what, rawmode)
    layout = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[planes.shape[2]]
    scale = _RANGES.get(planes.dtype, 1.0)
    return np.ascontiguousarray(orient(planes, turn)), scale, layout, mode


def _is_16bit(mode: str, rawmode: str) -> bool:
    return mode in _16BIT_GREY or (mode == "I" and "16" in rawmode)


def _unsupported(mode: str, path: Path, what: str) -> InvalidSampleError:
    return InvalidSampleError(
        f"{what} {path} has colour mode {mode}, which rses does not read; save it as 8- or 16-bit greyscale, "
        "RGB or RGBA (PNG)."
    )


# Pillow mode -> (mode to convert to, mode when the file has a tRNS transparency key)
_CONVERSIONS = {
    "1": ("L", "L"),
    "L": ("L", "LA"),
    "LA": ("LA", "LA"),
    "La": ("LA", "LA"),
    "P": ("RGB", "RGBA"),
    "PA": ("RGBA", "RGBA"),
    "RGB": ("RGB", "RGBA"),
    "RGBX": ("RGB", "RGB"),
    "RGBA": ("RGBA", "RGBA"),
    "RGBa": ("RGBA", "RGBA"),
    "CMYK": ("RGB", "RGB"),
    "YCbCr": ("RGB", "RGB"),
    "F": ("F", "F"),
}


def _pil_planes(img: Image.Image, path: Path, what: str, rawmode: str) -> np.ndarray:
    mode = img.mode
    if _is_16bit(mode, rawmode):
        return np.asarray(img, np.int64).clip(0, 65535).astype(np.uint16)[..., None]
    if mode not in _CONVERSIONS:
        raise _unsupported(mode, path, what)
    if mode == "F":
        return np.asarray(img, np.float32)[..., None]
    target = _CONVERSIONS[mode]["transparency" in img.info]
    arr = np.asarray(img if mode == target else img.convert(target), np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def _decode_16bit(path: Path, what: str, size: tuple[int, int]) -> np.ndarray:
    """16 bits per channel RGB/RGBA/LA with OpenCV (Pillow reduces them to 8 bits by truncation)."""
    planes = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    if planes is None or planes.shape[1::-1] != size:
        raise InvalidSampleError(f"{what} {path} cannot be read as a 16-bit image.")
    planes = planes[..., None] if planes.ndim == 2 else planes
    order = {3: [2, 1, 0], 4: [2, 1, 0, 3]}.get(planes.shape[2], list(range(planes.shape[2])))
    return planes[..., order]


__all__ = [
    "MAX_PIXELS",
    "binarize",
    "image_size",
    "load_image",
    "load_labels",
    "load_mask",
    "mask_values",
    "orient",
    "orientation",
    "quantize",
    "stored_frame",
]
