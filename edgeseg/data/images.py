"""The one reader of image and mask files: every check on a user's image file is made here.

Checked from the header, before any pixel is decoded: the pixel count (`max_pixels`, default 400 million, e.g.
20000 x 20000; a decompression bomb declares far more than it holds), a zero width or height, and more than one
frame (a multi-page TIFF is a stack, not an image). Anything the decoder then raises (truncated file, corrupt
data, a format we do not handle) is one `EdgesegError` naming the file.

Conversions (documented in the README's "Faults survived"):
- images: grayscale stays 1 channel; RGBA/LA drop alpha; palette, CMYK, YCbCr, LAB -> RGB; 16-bit, 32-bit and
  float -> 8-bit by the image's own min..max (microscopy rarely uses the full range); NaN/inf refused.
- masks: palette indices are the labels; 16-bit/integer-valued float masks kept if every value is below 256;
  colour masks must be gray (R == G == B); CMYK/YCbCr -> RGB first.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from edgeseg.errors import EdgesegError

DEFAULT_MAX_PIXELS = 400_000_000
MAX_PIXELS_ENV = "EDGESEG_MAX_PIXELS"  # set by `edgeseg --max-pixels N`; inherited by worker processes


def max_pixels() -> int:
    """The per-image pixel limit: $EDGESEG_MAX_PIXELS (set by `edgeseg --max-pixels`), else 400 million."""
    raw = os.environ.get(MAX_PIXELS_ENV)
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        n = int(float(raw))
    except ValueError:
        n = 0
    if n < 1:
        raise EdgesegError(f"{MAX_PIXELS_ENV}={raw!r} (--max-pixels): expected a positive number of pixels, "
                           f"e.g. {DEFAULT_MAX_PIXELS}")
    return n


def check_pixels(path: Path, width: int, height: int, frames: int = 1, what: str = "image") -> None:
    """Refuse a declared size before decoding: zero-sized, over the pixel limit, or several frames."""
    if width < 1 or height < 1:
        raise EdgesegError(f"{path}: {what} is {width}x{height} pixels (zero-sized); replace the file")
    limit = max_pixels()
    if width * height > limit:
        raise EdgesegError(f"{path}: {what} declares {width}x{height} = {width * height:,} pixels, over the limit of "
                           f"{limit:,} (a decompression bomb, or a whole slide to tile first); raise it with "
                           f"edgeseg --max-pixels N if the file is genuine")
    if frames > 1:
        raise EdgesegError(f"{path}: {what} has {frames} frames (a multi-page stack); save one 2-D {what} per file")


@contextlib.contextmanager
def _pil(path: Path, what: str, decode: bool = True) -> Iterator[Image.Image]:
    """Open with PIL, check the header, then decode (unless `decode` is False). PIL's own bomb limit, a
    fixed 179 million pixels, is replaced by ours for the open."""
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    # PIL warns about corrupt tags it skips ("Corrupt EXIF data", "Truncated File Read"): the file then either
    # decodes, or fails in one line below; a warning would only add lines to that one.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            im = Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = old
        with im:
            check_pixels(path, im.width, im.height, int(getattr(im, "n_frames", 1) or 1), what)
            if decode:
                im.load()
            yield im


def _decode_error(path: Path, what: str, e: BaseException) -> EdgesegError:
    if isinstance(e, MemoryError):
        return EdgesegError(f"{path}: not enough memory to decode this {what}; lower its size or edgeseg --max-pixels")
    hint = "use PNG, JPEG, TIFF or BMP files" if what == "image" else "save masks as PNG with 0/255 or class indices"
    noun = "image" if what == "image" else f"{what} image"
    return EdgesegError(f"{path}: not a readable {noun} ({type(e).__name__}); {hint}")


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as uint8 HxW (grayscale) or HxWx3 (colour). One-line EdgesegError if unreadable."""
    path = Path(path)
    try:
        with _pil(path, "image") as im:
            arr = _pil_to_uint8(path, im)
    except EdgesegError:
        raise
    except Exception as e:  # noqa: BLE001 - a hostile file can make any decoder raise anything
        arr = _read_tiff(path) if path.suffix.lower() in (".tif", ".tiff") and not isinstance(e, MemoryError) else None
        if arr is None:
            raise _decode_error(path, "image", e) from None
    if arr.ndim == 3 and arr.shape[-1] in (2, 4):
        arr = arr[..., :-1] if arr.shape[-1] == 4 else arr[..., 0]  # drop alpha
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] != 3) or arr.size == 0:
        raise EdgesegError(f"{path}: image of shape {arr.shape} is neither grayscale nor RGB; "
                           f"save it as a 1- or 3-channel image")
    return np.ascontiguousarray(arr)


def _pil_to_uint8(path: Path, im: Image.Image) -> np.ndarray:
    if im.mode in ("1", "L", "LA"):
        return np.asarray(im.convert("L"))
    if im.mode.startswith("I") or im.mode == "F":
        return scale_to_uint8(path, np.asarray(im))
    if im.mode in ("RGB", "RGBA"):
        return np.asarray(im)
    if im.mode in ("P", "PA"):
        return np.asarray(im.convert("RGBA" if "transparency" in im.info or im.mode == "PA" else "RGB"))
    return np.asarray(im.convert("RGB"))  # CMYK, YCbCr, LAB, HSV


def scale_to_uint8(path: Path, a: np.ndarray) -> np.ndarray:
    """High bit depth or float -> 8 bit by the image's own min..max; NaN/inf refused."""
    if a.size == 0:
        raise EdgesegError(f"{path}: image holds no pixels (shape {a.shape}); replace the file")
    if a.dtype == np.uint8:
        return a
    if a.dtype.kind not in "uifb":
        raise EdgesegError(f"{path}: image of pixel type {a.dtype} (complex?); save it as 8/16-bit or float")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise EdgesegError(f"{path}: float image holds NaN or infinite values; replace them before saving")
    lo, hi = float(a.min()), float(a.max())
    return np.zeros(a.shape, np.uint8) if hi <= lo else ((a - lo) / (hi - lo) * 255 + 0.5).astype(np.uint8)


def _read_tiff(path: Path) -> np.ndarray | None:
    """TIFFs PIL cannot decode (float RGB, planar, odd compressions), header-checked as PIL's are."""
    import tifffile  # a dependency (also of the Jetson install); imported only for TIFFs PIL cannot read

    log = logging.getLogger("tifffile")  # it logs corrupt tags as ERROR lines; the caller names the file once
    level, log.level = log.level, logging.CRITICAL
    try:
        with tifffile.TiffFile(path) as t:
            if not t.pages:
                return None
            page = t.pages[0]
            shape = tuple(int(d) for d in page.shape)
            planar = len(shape) == 3 and shape[0] in (1, 3, 4) and shape[-1] not in (1, 3, 4)
            h, w = (shape[1], shape[2]) if planar else (shape[0], shape[1] if len(shape) > 1 else 1)
            check_pixels(path, w, h, len(t.pages))
            a = page.asarray()
    except EdgesegError:
        raise
    except Exception:  # noqa: BLE001 - not a TIFF tifffile can read either: the caller names the file
        return None
    finally:
        log.setLevel(level)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)  # planar CHW -> HWC
    return scale_to_uint8(path, a)


def read_mask(path: str | Path) -> np.ndarray:
    """Read a mask as uint8 HxW raw values (a colour mask must be gray: R == G == B)."""
    path = Path(path)
    try:
        with _pil(path, "mask") as im:
            if im.mode == "P":
                arr = np.asarray(im)  # palette indices are the labels
            elif im.mode.startswith("I") or im.mode == "F":
                arr = _integer_mask(path, np.asarray(im))
            else:
                arr = np.asarray(im if im.mode in ("L", "RGB", "RGBA", "1", "LA") else im.convert("RGB"))
    except EdgesegError:
        raise
    except Exception as e:  # noqa: BLE001 - a hostile file can make any decoder raise anything
        raise _decode_error(path, "mask", e) from None
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.ndim == 3:
        rgb = arr[..., :1] if arr.shape[-1] == 2 else arr[..., :3]  # LA: gray + alpha
        if not all(np.array_equal(rgb[..., 0], rgb[..., c]) for c in range(1, rgb.shape[-1])):
            raise EdgesegError(f"{path}: colour mask (R, G, B differ); save masks as single-channel "
                               f"0/255 or class-index PNGs")
        arr = rgb[..., 0]
    return np.ascontiguousarray(arr.astype(np.uint8))


def _integer_mask(path: Path, a: np.ndarray) -> np.ndarray:
    if a.size and (not np.isfinite(a).all() or (a != np.round(a)).any() or a.min() < 0):
        raise EdgesegError(f"{path}: mask holds fractional, negative or non-finite values; masks must be 0/255, "
                           f"0/1 or class indices")
    if a.size and a.max() > 255:
        raise EdgesegError(f"{path}: mask values up to {int(a.max())}; masks must be 0/255, 0/1 "
                           f"or class indices below 256")
    return a.astype(np.uint8)


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from the header only, checked as `read_image` checks it."""
    path = Path(path)
    try:
        with _pil(path, "image", decode=False) as im:
            return im.width, im.height
    except EdgesegError:
        raise
    except Exception as e:  # noqa: BLE001
        if path.suffix.lower() in (".tif", ".tiff"):
            h, w = read_image(path).shape[:2]
            return w, h
        raise _decode_error(path, "image", e) from None
