from __future__ import annotations

import io

import pytest
from PIL import Image

from gtstream import transforms
from gtstream.transforms import Rejected


def jpeg(size: tuple[int, int], orientation: int | None = None) -> bytes:
    image = Image.new("RGB", size, (200, 10, 10))
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    exif[0x010F] = "CameraMaker"  # Make: metadata that must be stripped
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"hello, not an image", "not-an-image"),
        (jpeg((40, 30))[:200], "corrupt"),
        (b"x" * 101, "too-large"),
    ],
)
def test_validate_rejects_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        transforms.validate(data, max_bytes=100 if reason == "too-large" else 10**6, max_pixels=10**6)
    assert caught.value.reason.startswith(reason)


def test_validate_checks_pixels_before_decoding_and_type() -> None:
    with pytest.raises(Rejected, match="too-many-pixels"):
        transforms.validate(jpeg((200, 100)), max_bytes=10**6, max_pixels=10_000)
    ico = io.BytesIO()
    Image.new("RGB", (16, 16)).save(ico, format="ICO")
    with pytest.raises(Rejected, match="unsupported-type: ICO"):
        transforms.validate(ico.getvalue(), max_bytes=10**6, max_pixels=10**6)
    assert transforms.validate(jpeg((20, 10)), max_bytes=10**6, max_pixels=10**6) == ("JPEG", 20, 10)


def test_default_transform_orients_bounds_converts_and_strips_metadata() -> None:
    out = transforms.default(jpeg((400, 200), orientation=6), {"max_side": 100, "format": "PNG"})
    assert (out.extension, out.content_type) == ("png", "image/png")
    with Image.open(io.BytesIO(out.data)) as image:
        assert image.format == "PNG"
        assert image.size == (50, 100)  # rotated by the EXIF orientation, then bounded
        assert not image.getexif() and "exif" not in image.info


def test_transforms_are_pluggable_by_name() -> None:
    assert transforms.load("gtstream.transforms:default") is transforms.default
    with pytest.raises(ValueError, match="module:function"):
        transforms.load("no-colon")
    with pytest.raises(ValueError, match="not a function"):
        transforms.load("gtstream.transforms:SUPPORTED_FORMATS")
