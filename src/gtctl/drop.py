"""``gtctl drop DIR``: upload a folder to the project's drop bucket, skipping what is already there.

A file is "already there" when the drop bucket holds its key with the same size and ETag (the
MD5 of a single-part upload; for multipart ETags the size decides), or when the bucket no longer
holds the key but the ledger already has its ``DROP#<key>`` item (intake took it in).
Non-image files stop the drop with one line listing them, unless ``include_all``.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gtctl.aws import Aws, translate_errors
from gtctl.deployment import Deployment
from gtctl.errors import GtctlError

IMAGE_FORMATS = frozenset({"JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP", "MPO"})
UPLOAD_WORKERS = 8


@dataclass
class LocalFile:
    path: Path
    key: str
    size: int


@dataclass
class DropPlan:
    upload: list[LocalFile] = field(default_factory=list)
    skipped: list[LocalFile] = field(default_factory=list)
    non_images: list[LocalFile] = field(default_factory=list)
    hidden: list[Path] = field(default_factory=list)

    @property
    def upload_bytes(self) -> int:
        return sum(f.size for f in self.upload)


def is_image(path: Path) -> bool:
    """Pillow can identify the file as an image of a supported format (header only, no decode)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.format in IMAGE_FORMATS
    except Image.DecompressionBombError:
        return True  # an image, just a big one: intake quarantines it with the reason
    except Exception:  # any unidentifiable / unreadable file is "not an image"
        return False


def list_folder(folder: Path, key_prefix: str = "") -> tuple[list[LocalFile], list[Path]]:
    if not folder.exists():
        raise GtctlError(f"folder not found: {folder}")
    if not folder.is_dir():
        raise GtctlError(f"not a folder: {folder}")
    files: list[LocalFile] = []
    hidden: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(root) / name
            if name.startswith("."):
                hidden.append(path)
                continue
            if not path.is_file():
                continue
            key = key_prefix + path.relative_to(folder).as_posix()
            files.append(LocalFile(path=path, key=key, size=path.stat().st_size))
    return files, hidden


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def existing_objects(aws: Aws, bucket: str, key_prefix: str) -> dict[str, tuple[int, str]]:
    found: dict[str, tuple[int, str]] = {}
    with translate_errors():
        pages = aws.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                found[obj["Key"]] = (int(obj["Size"]), str(obj.get("ETag", "")).strip('"'))
    return found


def known_drops(aws: Aws, dep: Deployment, keys: list[str]) -> set[str]:
    """Drop keys the ledger already has a ``DROP#`` item for."""
    known: set[str] = set()
    client = aws.client("dynamodb")
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {
            dep.ledger_table: {
                "Keys": [{"pk": {"S": f"DROP#{k}"}, "sk": {"S": "DROP"}} for k in keys[start : start + 100]],
                "ProjectionExpression": "pk",
            }
        }
        with translate_errors():
            while request:
                page = client.batch_get_item(RequestItems=request)
                for item in page.get("Responses", {}).get(dep.ledger_table, []):
                    known.add(item["pk"]["S"][len("DROP#") :])
                request = page.get("UnprocessedKeys") or {}
    return known


def plan(
    aws: Aws, dep: Deployment, folder: Path, *, key_prefix: str = "", include_all: bool = False
) -> DropPlan:
    files, hidden = list_folder(folder, key_prefix)
    result = DropPlan(hidden=hidden)
    quarantine = dep.quarantine_prefix
    inside = [f.key for f in files if f.key.startswith(quarantine)]
    if inside:
        raise GtctlError(
            f"keys under the quarantine prefix {quarantine!r} are ignored by intake: {inside[0]}"
        )
    if not include_all:
        result.non_images = [f for f in files if not is_image(f.path)]
        if result.non_images:
            return result
    existing = existing_objects(aws, dep.drop_bucket, key_prefix)
    missing = [f.key for f in files if f.key not in existing]
    in_ledger = known_drops(aws, dep, missing) if missing else set()
    for f in files:
        there = existing.get(f.key)
        if there is not None:
            size, etag = there
            same = size == f.size and ("-" in etag or etag == _md5(f.path))
            (result.skipped if same else result.upload).append(f)
        elif f.key in in_ledger:
            result.skipped.append(f)
        else:
            result.upload.append(f)
    return result


def non_image_message(folder: Path, non_images: list[LocalFile]) -> str:
    names = [f.key for f in non_images]
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return (
        f"{len(names)} non-image file(s) in {folder}: {shown} "
        "(remove them, or pass --include-all to drop them anyway: intake will quarantine them)"
    )


def upload(
    aws: Aws,
    dep: Deployment,
    files: list[LocalFile],
    on_bytes: Callable[[int], None] | None = None,
    workers: int = UPLOAD_WORKERS,
) -> list[str]:
    """Upload files concurrently; returns the uploaded keys. ``on_bytes`` gets byte-count increments."""
    s3 = aws.client("s3")

    def one(f: LocalFile) -> str:
        content_type = mimetypes.guess_type(f.path.name)[0] or "application/octet-stream"
        with translate_errors():
            s3.upload_file(
                str(f.path),
                dep.drop_bucket,
                f.key,
                ExtraArgs={"ContentType": content_type},
                Callback=on_bytes,
            )
        return f.key

    done: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(one, f) for f in files]
        for future in as_completed(futures):
            done.append(future.result())
    return done
