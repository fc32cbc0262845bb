"""``gtctl preview`` opened in headless Chromium (Debian's ``chromium`` package): the page a worker
would see shows the task, the instructions text and the example images, with nothing fetched from
the network. The screenshot is kept as a test artifact: ``build/test-artifacts/gtctl-preview.png``.

Without a ``chromium`` on PATH the test is skipped and says so (``-ra`` prints the reason);
``.ci/run`` installs Debian's package when it can.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from gtctl.__main__ import cli

ROOT = Path(__file__).resolve().parents[3]
STARTER = ROOT / "instructions"
ARTIFACTS = ROOT / "build" / "test-artifacts"
CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser") if shutil.which(name)), None)
# The example images' own colours (instructions/examples/*.svg): cat.svg's #eef, dog.svg's #a63.
EXAMPLE_COLOURS = {"cat background": (0xEE, 0xEE, 0xFF), "dog head": (0xAA, 0x66, 0x33)}


def chromium(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", "--virtual-time-budget=5000", "--window-size=1280,1600",
         f"--user-data-dir={page.parent / 'chromium-profile'}", *args, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
def page(tmp_path: Path) -> Path:
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium): preview not opened in a browser")
    out = tmp_path / "preview.html"
    result = CliRunner().invoke(cli, ["preview", "--source", str(STARTER), "--output", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_the_preview_shows_the_instructions_and_the_example_images(page: Path) -> None:
    # The DOM after the page's scripts ran: the crowd-element stand-ins drew the task
    dom = chromium(page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.sub(r"\s+", " ", dom.stdout)
    assert "If several animals are visible, choose the one that fills most of the image" in body
    assert 'class="crowd-preview-instructions-body"' in body
    assert re.search(r'class="crowd-preview-category"[^>]*>.*?cat', body)
    loaded = re.findall(r'<img[^>]*data-preview-loaded="(true|false)"', body)
    assert len(loaded) >= 3 and set(loaded) == {"true"}, loaded  # the sample and the two examples

    # The screenshot: not blank, and the example images are drawn in it
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "gtctl-preview.png"
    shot.unlink(missing_ok=True)
    taken = chromium(page, f"--screenshot={shot}")
    assert taken.returncode == 0 and shot.is_file(), taken.stderr[-2000:]
    with Image.open(shot) as image:
        rgb = image.convert("RGB")
        assert rgb.size == (1280, 1600)
        colours = rgb.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50, "the screenshot is (nearly) blank"
    present = {colour for _, colour in colours}
    for what, colour in EXAMPLE_COLOURS.items():
        assert colour in present, f"{what} {colour} is not in {shot}"
