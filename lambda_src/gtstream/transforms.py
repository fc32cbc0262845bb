"""Image validation and the pluggable pre-processing transform.

A transform is any function ``f(data: bytes, options: Mapping[str, Any]) -> Transformed`` named
``"package.module:function"`` in the project config (``preprocessing.transform``); it must be
importable in the Lambda package (add your module beside ``gtstream``). ``options`` are the other
keys of the config's ``preprocessing`` object.
"""

from __future__ import annotations

import importlib
import io
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"})
_OUTPUT = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png")}


@dataclass(frozen=True)
class Transformed:
    data: bytes
    extension: str
    content_type: str


Transform = Callable[[bytes, Mapping[str, Any]], Transformed]


class Rejected(Exception):
    """The dropped object is not an acceptable image; `reason` is a short machine-readable text."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


# Bytes per pixel of Pillow's decoded image, by mode (Pillow stores "1"/"L"/"P" in one byte,
# "I;16" in two, and RGB, like RGBA, CMYK, LA, I and F, in four); an unknown mode counts four.
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
# What intake needs besides the decoded pixels: the Python runtime's growth, the encoder's
# buffers, the resized copy (at most max_side^2 pixels). Reserved out of the function's memory.
MEMORY_HEADROOM_BYTES = 64 * 1024 * 1024
# Lambda sets it to the function's memory setting in MB ("Defined runtime environment variables",
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
MEMORY_VARIABLE = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"


def pixel_bytes(mode: str) -> int:
    return _PIXEL_BYTES.get(mode, 4)


def decode_cost(mode: str, width: int, height: int, max_side: int | None = None) -> int:
    """Bytes the intake needs to decode a `mode` image of width x height and pre-process it: the
    decoded pixels and one working copy of four bytes per pixel (the EXIF rotation, done in place,
    or the conversion to RGB/RGBA: each holds the old and the new pixels at once), and, when the
    image is resized to `max_side`, the reduced copy ``thumbnail`` makes first (``reduce`` by whole
    factors down to no less than twice `max_side`: at most 16 max_side^2 pixels)."""
    pixels = width * height
    resized = 4 * min(pixels, 16 * max_side * max_side) if max_side is not None else 0
    return pixels * (pixel_bytes(mode) + 4) + resized


def _resident_bytes() -> int:
    """This process's resident memory (Linux's /proc/self/statm, as on Lambda); 0 if unreadable."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def memory_budget() -> tuple[int, int] | None:
    """(bytes free for a decode, the function's memory setting in MB): the setting
    (``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``) less what the process holds now and the headroom.
    None outside Lambda (the variable unset): then only the pixel limit bounds a decode."""
    raw = os.environ.get(MEMORY_VARIABLE, "")
    if not raw.isdigit():
        return None
    setting = int(raw)
    return setting * 1024 * 1024 - _resident_bytes() - MEMORY_HEADROOM_BYTES, setting


def decode(
    data: bytes,
    max_bytes: int,
    max_pixels: int,
    *,
    max_side: int | None = None,
    memory: tuple[int, int] | None = None,
) -> Any:
    """Check a dropped object and decode it, once: the loaded PIL image (the caller closes it), or
    raise Rejected. The pixel limit and the memory the decode needs are checked on the header,
    before decoding (``Image.open`` reads only the header).

    ``max_side``: the longest side the transform keeps; a JPEG is then decoded at the smallest
    DCT scale that keeps at least twice that (``Image.draft``, what ``Image.thumbnail`` asks for).
    ``memory``: (bytes free, the setting in MB) from :func:`memory_budget`; an image whose
    :func:`decode_cost` exceeds the bytes free is refused (``too-large-for-memory``)."""
    if not data:
        raise Rejected("empty: zero-byte object")
    if len(data) > max_bytes:
        raise Rejected(f"too-large: more than {max_bytes} bytes")
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = None  # we enforce our own limit before decoding
    image = None
    try:
        image = Image.open(io.BytesIO(data))
        fmt = str(image.format or "")
        width, height = image.size
        if fmt not in SUPPORTED_FORMATS:
            supported = ", ".join(sorted(SUPPORTED_FORMATS))
            raise Rejected(f"unsupported-type: {fmt or 'unknown'} (supported: {supported})")
        if width * height > max_pixels:
            raise Rejected(f"too-many-pixels: {width}x{height} > {max_pixels}")
        if max_side is not None and fmt == "JPEG":
            image.draft(None, (2 * max_side, 2 * max_side))
        cost = decode_cost(image.mode, *image.size, max_side)
        if memory is not None and cost > memory[0]:
            raise Rejected(
                f"too-large-for-memory: {width}x{height} {image.mode} needs {cost >> 20} MB to decode,"
                f" {max(memory[0], 0) >> 20} MB of the function's {memory[1]} MB are free"
            )
        image.load()
    except Rejected:
        _close(image)
        raise
    except UnidentifiedImageError:
        raise Rejected("not-an-image: no decoder recognises the bytes") from None
    except (OSError, SyntaxError, ValueError) as exc:
        _close(image)
        raise Rejected(f"corrupt: {type(exc).__name__}: {exc}"[:300]) from None
    return image


def _close(image: Any) -> None:
    if image is not None:
        image.close()


def validate(data: bytes, max_bytes: int, max_pixels: int) -> tuple[str, int, int]:
    """Check a dropped object; return (format, width, height) or raise Rejected."""
    image = decode(data, max_bytes, max_pixels)
    try:
        return str(image.format), image.size[0], image.size[1]
    finally:
        image.close()


def default(data: bytes, options: Mapping[str, Any]) -> Transformed:
    """EXIF orientation, web-safe format (JPEG or PNG), longest side bounded, metadata stripped."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as opened:
        return default_image(opened, options)


def default_image(opened: Any, options: Mapping[str, Any]) -> Transformed:
    """:func:`default` of an image already decoded (intake decodes each drop once); it may change
    `opened` (rotated in place, its metadata dropped): the caller closes it."""
    from PIL import ImageOps

    max_side = int(options.get("max_side", 1024))
    fmt = str(options.get("format", "JPEG")).upper()
    if fmt not in _OUTPUT:
        raise ValueError(f"preprocessing.format must be JPEG or PNG, not {fmt!r}")
    quality = int(options.get("quality", 90))
    ImageOps.exif_transpose(opened, in_place=True)  # no copy of the pixels when not rotated
    image = opened
    if fmt == "JPEG" and image.mode != "RGB":
        image = image.convert("RGB")
    elif fmt == "PNG" and image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA")
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side))
    # The encoders write EXIF/XMP only when asked and ICC, comments, transparency from ``info``:
    # with ``info`` empty, nothing but the pixels is written.
    image.info = {}
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, format="JPEG", quality=quality, optimize=True)
    else:
        image.save(out, format="PNG", optimize=True)
    extension, content_type = _OUTPUT[fmt]
    return Transformed(out.getvalue(), extension, content_type)


# Transforms that can start from the decoded image (the others get the bytes, as documented).
_FROM_IMAGE: dict[Callable[..., Any], Callable[[Any, Mapping[str, Any]], Transformed]] = {
    default: default_image
}


def kept_side(spec: str, options: Mapping[str, Any]) -> int | None:
    """The longest side the transform `spec` keeps of a decoded image (what :func:`decode` may
    draft a JPEG down to), or None when it starts from the bytes (it decodes them itself)."""
    try:
        function = load(spec)
    except (ImportError, ValueError):
        return None  # apply raises it, after the checks
    return int(options.get("max_side", 1024)) if function in _FROM_IMAGE else None


def apply(spec: str, data: bytes, image: Any, options: Mapping[str, Any]) -> Transformed:
    """Run the transform named `spec` on a drop: from `image` (already decoded) when it can, else
    from the bytes."""
    function = load(spec)
    from_image = _FROM_IMAGE.get(function)
    return from_image(image, options) if from_image is not None else function(data, options)


def load(spec: str) -> Transform:
    """Import ``"module:function"``; a clear error when it is missing or not callable."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"transform {spec!r} must look like 'package.module:function'")
    module = importlib.import_module(module_name)
    function = getattr(module, attribute, None)
    if not callable(function):
        raise ValueError(f"transform {spec!r}: {attribute} is not a function of {module_name}")
    return function  # type: ignore[no-any-return]
