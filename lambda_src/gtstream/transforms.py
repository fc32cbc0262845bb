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


def decode(data: bytes, max_bytes: int, max_pixels: int) -> Any:
    """Check a dropped object and decode it, once: the loaded PIL image (the caller closes it), or
    raise Rejected. The pixel limit is checked on the header, before decoding."""
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
    """:func:`default` of an image already decoded (intake decodes each drop once)."""
    from PIL import Image, ImageOps

    max_side = int(options.get("max_side", 1024))
    fmt = str(options.get("format", "JPEG")).upper()
    if fmt not in _OUTPUT:
        raise ValueError(f"preprocessing.format must be JPEG or PNG, not {fmt!r}")
    quality = int(options.get("quality", 90))
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


# Transforms that can start from the decoded image (the others get the bytes, as documented).
_FROM_IMAGE: dict[Callable[..., Any], Callable[[Any, Mapping[str, Any]], Transformed]] = {
    default: default_image
}


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
