"""Compatible mode against ImageHash 4.3 on Pillow, on the images that used to disagree: icons
with transparency, palettes with ``tRNS``, 16-bit gray with a colour key, and symmetric shapes
(whose DCT has exact zeros at the median)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import imagehash
import mmdedup
import numpy as np
from PIL import Image, ImageDraw

IMAGEHASH = {
    "ahash": imagehash.average_hash,
    "dhash": imagehash.dhash,
    "dhash_vertical": imagehash.dhash_vertical,
    "phash": imagehash.phash,
    "phash_simple": imagehash.phash_simple,
    "whash": imagehash.whash,
}
TANGO = Path(__file__).parent / "data" / "tango"


def png(img: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def assert_equal_to_imagehash(blobs: list[bytes], labels: list[str]) -> None:
    for method, fn in IMAGEHASH.items():
        t = mmdedup.image_hash(blobs, method=method, mode="compatible")
        ours = mmdedup.to_hex(t["hash"])
        with warnings.catch_warnings():
            # Pillow warns about palette transparency given as bytes when converting to L.
            warnings.simplefilter("ignore", UserWarning)
            theirs = [str(fn(Image.open(io.BytesIO(b)))) for b in blobs]
        bad = [(lab, o, r) for lab, o, r in zip(labels, ours, theirs, strict=True) if o != r]
        assert not bad, (method, bad[:5], f"{len(bad)} of {len(blobs)}")


def symbolic_icons(seed: int, n: int) -> tuple[list[bytes], list[str]]:
    """Small, mostly transparent shapes (many symmetric about both axes and the diagonals), stored
    as RGBA (with white or black under alpha 0), gray + alpha, palette with ``tRNS`` and RGB."""
    rng = np.random.default_rng(seed)
    blobs, labels = [], []
    for t in range(n):
        s = int(rng.choice([16, 22, 24, 32, 48, 64]))
        im = Image.new("RGBA", (s, s), (0, 0, 0, 0))
        d = ImageDraw.Draw(im)
        col = (*(int(x) for x in rng.integers(0, 256, 3)), 255)
        m = int(rng.integers(2, s // 3))
        shape = t % 4
        if shape == 0:
            d.ellipse([m, m, s - 1 - m, s - 1 - m], fill=col)
        elif shape == 1:
            d.rectangle([m, m, s - 1 - m, s - 1 - m], outline=col, width=2)
        elif shape == 2:
            d.polygon([(s // 2, m), (s - 1 - m, s - 1 - m), (m, s - 1 - m)], fill=col)
        else:
            d.line([m, m, s - 1 - m, s - 1 - m], fill=col, width=3)
            d.line([m, s - 1 - m, s - 1 - m, m], fill=col, width=3)
        a = np.asarray(im).copy()
        if t % 3 == 0:
            a[a[..., 3] == 0, :3] = 255
        rgba = Image.fromarray(a, "RGBA")
        store = (t // 4) % 5
        out = [
            rgba,
            rgba.convert("LA"),
            rgba.convert("P"),
            rgba.quantize(8),
            Image.fromarray(a[..., :3], "RGB"),
        ][store]
        blobs.append(png(out))
        labels.append(f"{t}: {out.mode} {s}px shape {shape}")
    return blobs, labels


def test_symbolic_icons_equal_imagehash() -> None:
    blobs, labels = symbolic_icons(1, 240)
    assert_equal_to_imagehash(blobs, labels)


def test_symmetric_shapes_with_exact_zero_median() -> None:
    # Both-axis and diagonal symmetry at the hash's own resolution (32 px, no resize): SciPy's DCT
    # has exact zeros beyond those of the mirror symmetries, and the median is 0.
    blobs, labels = [], []
    for k, shape in enumerate(("ring", "cross", "x", "plus")):
        im = Image.new("LA", (32, 32), (0, 0))
        d = ImageDraw.Draw(im)
        if shape == "ring":
            d.ellipse([4, 4, 27, 27], outline=(200, 255), width=3)
        elif shape == "cross":
            d.rectangle([13, 3, 18, 28], fill=(90, 255))
            d.rectangle([3, 13, 28, 18], fill=(90, 255))
        elif shape == "x":
            d.line([4, 4, 27, 27], fill=(255, 255), width=3)
            d.line([4, 27, 27, 4], fill=(255, 255), width=3)
        else:
            d.rectangle([14, 6, 17, 25], fill=(30 + 50 * k, 255))
            d.rectangle([6, 14, 25, 17], fill=(30 + 50 * k, 255))
        for mode in ("LA", "P", "RGBA", "L"):
            blobs.append(png(im.convert(mode)))
            labels.append(f"{shape} {mode}")
    assert_equal_to_imagehash(blobs, labels)


def test_gray16_with_colour_key() -> None:
    # Pillow opens a 16-bit gray PNG with tRNS as I;16 (which saturates into L); the decoder
    # expands it to gray + alpha, whose stored-alpha conversion keeps the high byte instead.
    rng = np.random.default_rng(5)
    blobs = []
    for key in (None, 1234, 0):
        a = rng.integers(0, 600, (40, 56)).astype("<u2")
        a[:12] = 1234
        a[30:, :20] = rng.integers(0, 65536, (10, 20))
        img = Image.frombytes("I;16", (56, 40), a.tobytes())
        blobs.append(png(img) if key is None else png(img, transparency=key))
    assert_equal_to_imagehash(blobs, ["no key", "key 1234", "key 0"])


def test_tango_icons_equal_imagehash() -> None:
    paths = sorted(TANGO.glob("*.png"))
    assert len(paths) == 3
    assert_equal_to_imagehash([p.read_bytes() for p in paths], [p.name for p in paths])
