"""Regenerates docs/inspect.png, the README's picture of an `mmdedup inspect` report.

Deduplicates the sample corpus (examples/sample), writes its report, has headless Chromium
(Debian: `apt-get install chromium`) take a screenshot, and stores it as an optimized
palette PNG under 200 KB:

    . .venv/bin/activate && python scripts/screenshot_report.py [--out docs/inspect.png]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 1000, 1900


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "inspect.png")
    args = ap.parse_args()
    browser = next(
        (p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))),
        None,
    )
    if browser is None:
        sys.exit("needs chromium (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        mm = [sys.executable, "-m", "mmdedup"]
        sample = str(ROOT / "examples" / "sample")
        subprocess.run(
            [*mm, "dedup", sample, "-o", str(t / "out"), "-t", "0.7", "--id-column", "id", "-q"],
            check=True,
        )
        page = t / "report.html"
        subprocess.run([*mm, "inspect", str(t / "out"), "-o", str(page), "--seed", "0"], check=True)
        shot = t / "shot.png"
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={t / 'profile'}",
                f"--screenshot={shot}",
                f"--window-size={WIDTH},{HEIGHT}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
        )
        im = Image.open(shot).convert("RGB")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        im.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            args.out, optimize=True
        )
    size = args.out.stat().st_size
    print(f"{args.out}: {im.size[0]}×{im.size[1]} px, {size / 1024:.0f} KB")
    if size >= 200 * 1024:
        sys.exit("the screenshot is 200 KB or more: lower HEIGHT or the colours")


if __name__ == "__main__":
    main()
