"""The hostile input corpus (issue 10), generated: never stored in git.

``CORPUS`` lists (drop key, bytes, expected outcome: ``accepted`` or the quarantine reason's prefix).
"""

from __future__ import annotations

import io
import math
import struct
import zipfile
import zlib
from typing import Any

from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int, color_type: int = 0, bit_depth: int = 1) -> bytes:
    """A PNG of width x height black pixels (1-bit grayscale by default; ``color_type=6,
    bit_depth=8``: RGBA): a few hundred KB to a few MB that decode to far more, compressed row by row."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    row = b"\x00" * (1 + math.ceil(width * channels * bit_depth / 8))  # filter byte 0 and the row
    compressor = zlib.compressobj(1)
    rows = row * 1000
    idat = b"".join(compressor.compress(rows) for _ in range(height // 1000))
    idat += compressor.compress(row * (height % 1000)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def image(mode: str = "RGB", fmt: str = "JPEG", size: tuple[int, int] = (40, 30), **save: Any) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 120).save(out, format=fmt, **save)
    return out.getvalue()


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.html", "<script>alert('zip')</script>")
    return out.getvalue()


def huge_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "EXIFMARKER" + "A" * 60_000  # ImageDescription: near the 64 KB APP1 limit
    return image(exif=exif.tobytes())


def animated_gif() -> bytes:
    frames = [Image.new("P", (20, 20), color) for color in (1, 50, 200)]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return out.getvalue()


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>'
HTML = b"<!DOCTYPE html><html><body><script>fetch('https://evil.example')</script></body></html>"
LONG = "n" * 1000 + ".jpg"  # a 1 KB name: "quarantine/" + it is longer than S3's 1024-byte keys
CORPUS: list[tuple[str, bytes, str]] = [  # (drop key, bytes, outcome: accepted or reason prefix)
    ("bomb/png-12000x12000.png", png_bomb(12_000, 12_000), "too-many-pixels"),
    ("poly/jpeg-zip.jpg", image() + zip_bytes(), "accepted"),
    ("poly/jpeg-html.jpg", image() + HTML, "accepted"),
    ("disguised/svg.jpg", SVG, "not-an-image"),
    ("disguised/html.jpg", HTML, "not-an-image"),
    ("exif/huge.jpg", huge_exif(), "accepted"),
    ("truncated/half.jpg", image(size=(200, 150))[:600], "corrupt"),
    ("modes/cmyk.jpg", image("CMYK"), "accepted"),
    ("modes/16bit.png", image("I;16", "PNG"), "accepted"),
    ("modes/animated.gif", animated_gif(), "accepted"),
    ("../../../etc/escape.jpg", image(size=(41, 30)), "accepted"),
    ("../up/bad.jpg", b"not an image", "not-an-image"),
    ("ctl/\x01\x07\x1b[31m\x7fname\t.jpg", image(size=(42, 30)), "accepted"),
    ("ctl/\x1b]0;owned\x07.jpg", HTML, "not-an-image"),
    (LONG, image(size=(43, 30)), "accepted"),
    ("long/" + "é" * 505 + ".jpg", SVG, "not-an-image"),  # 1,019 bytes; quarantined: 1,030
]
