"""Image validation and the pluggable pre-processing transform.

A transform is any function ``f(data: bytes, options: Mapping[str, Any]) -> Transformed`` named
``"package.module:function"`` in the project config (``preprocessing.transform``); it must be
importable in the Lambda package (add your module beside ``gtstream``). ``options`` are the other
keys of the config's ``preprocessing`` object.
"""

from __future__ import annotations

import importlib
import io
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


def validate(data: bytes, max_bytes: int, max_pixels: int) -> tuple[str, int, int]:
    """Check a dropped object; return (format, width, height) or raise Rejected."""
    if not data:
        raise Rejected("empty: zero-byte object")
    if len(data) > max_bytes:
        raise Rejected(f"too-large: more than {max_bytes} bytes")
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = None  # we enforce our own limit before decoding
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = str(image.format or "")
            width, height = image.size
            if fmt not in SUPPORTED_FORMATS:
                supported = ", ".join(sorted(SUPPORTED_FORMATS))
                raise Rejected(f"unsupported-type: {fmt or 'unknown'} (supported: {supported})")
            if width * height > max_pixels:
                raise Rejected(f"too-many-pixels: {width}x{height} > {max_pixels}")
            image.load()
    except Rejected:
        raise
    except UnidentifiedImageError:
        raise Rejected("not-an-image: no decoder recognises the bytes") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise Rejected(f"corrupt: {type(exc).__name__}: {exc}"[:300]) from None
    return fmt, width, height


def default(data: bytes, options: Mapping[str, Any]) -> Transformed:
    """EXIF orientation, web-safe format (JPEG or PNG), longest side bounded, metadata stripped."""
    from PIL import Image, ImageOps

    max_side = int(options.get("max_side", 1024))
    fmt = str(options.get("format", "JPEG")).upper()
    if fmt not in _OUTPUT:
        raise ValueError(f"preprocessing.format must be JPEG or PNG, not {fmt!r}")
    quality = int(options.get("quality", 90))
    with Image.open(io.BytesIO(data)) as opened:
        image = ImageOps.exif_transpose(opened)
        if fmt == "JPEG" and image.mode != "RGB":
            image = image.convert("RGB")
        elif fmt == "PNG" and image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGBA")
        if max(image.size) > max_side:
            image.thumbnail((max_side, max_side))
        # A fresh image carries no EXIF/ICC/text metadata.
        clean = Image.new(image.mode, image.size)
        clean.paste(image)
        out = io.BytesIO()
        if fmt == "JPEG":
            clean.save(out, format="JPEG", quality=quality, optimize=True)
        else:
            clean.save(out, format="PNG", optimize=True)
    extension, content_type = _OUTPUT[fmt]
    return Transformed(out.getvalue(), extension, content_type)


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
