"""The DC-only JPEG decoder (canonical pHash / aHash at 1/8 scale) against jpeg-decoder's 1/8
decode it replaces: the same pixels, orientation and hashes, or a fallback to jpeg-decoder."""

from __future__ import annotations

import io

import mmdedup
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmdedup import _core
from PIL import Image

SUBSAMPLING = ["4:4:4", "4:2:2", "4:2:0"]


def picture(w: int, h: int, seed: int = 0, mode: str = "RGB") -> Image.Image:
    """Gradients, a few shapes and noise: every block has AC energy, DC varies smoothly."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack(
        [
            128 + 100 * np.sin(x / max(w, 1) * 6.0 + seed),
            128 + 100 * np.cos(y / max(h, 1) * 5.0),
            (x + y) * 255.0 / max(w + h, 1),
        ],
        axis=-1,
    )
    base[(x // 37 + y // 23) % 5 == 0] = [250, 20, 60]
    base += rng.normal(0, 18, base.shape)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    return img.convert(mode) if mode != "RGB" else img


def jpeg(img: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kw)
    return buf.getvalue()


def compare(data: bytes, min_side: int = 128, *, expect_dc: bool = True) -> None:
    """Both paths decode `data` identically; the DC-only one ran where `expect_dc`."""
    old = _core._jpeg_reduced(data, min_side, 0, False)
    new = _core._jpeg_reduced(data, min_side, 0, True)
    assert old is not None and new is not None
    assert old[:5] == new[:5]
    assert not old[5]
    assert new[5] == expect_dc
    if min_side == 128:
        # Canonical pHash and aHash hash the 1/8 image: the JPEG (now decoded by the DC-only
        # decoder) hashes like a PNG of jpeg-decoder's 1/8 pixels with the same orientation.
        w, h, channels, pixels, orientation, _ = old
        img = Image.frombytes("L" if channels == 1 else "RGB", (w, h), pixels)
        exif = Image.Exif()
        exif[0x0112] = orientation
        buf = io.BytesIO()
        img.save(buf, "PNG", exif=exif.tobytes())
        methods = ["phash", "ahash"]
        got = mmdedup.image_hashes([data], methods=methods).select(methods).to_pylist()
        want = mmdedup.image_hashes([buf.getvalue()], methods=methods).select(methods).to_pylist()
        assert got == want


@pytest.mark.parametrize("subsampling", SUBSAMPLING)
@pytest.mark.parametrize("quality", [10, 50, 90, 100])
def test_subsampling_and_quality(subsampling: str, quality: int) -> None:
    compare(jpeg(picture(1300, 1030, 1), quality=quality, subsampling=subsampling))


@pytest.mark.parametrize("size", [(1, 1), (7, 9), (17, 33), (1023, 1025), (1234, 999), (129, 2000)])
@pytest.mark.parametrize("subsampling", SUBSAMPLING)
def test_odd_sizes(size: tuple[int, int], subsampling: str) -> None:
    data = jpeg(picture(*size, seed=size[0]), quality=85, subsampling=subsampling)
    # Tiny images: a min_side of 1 keeps them at 1/8.
    compare(data, 1)


@pytest.mark.parametrize("progressive", [False, True])
def test_grayscale(progressive: bool) -> None:
    compare(jpeg(picture(1111, 1077, 2, "L"), quality=75, progressive=progressive))


def test_rgb_colorspace() -> None:
    # keep_rgb stores R, G, B components (ids 'R', 'G', 'B'): no colour conversion.
    compare(jpeg(picture(1100, 1050, 3), quality=80, keep_rgb=True, subsampling="4:4:4"))


def test_cmyk_is_left_to_the_full_decode() -> None:
    data = jpeg(picture(1100, 1050, 4, "CMYK"), quality=80)
    assert _core._jpeg_reduced(data, 128, 0, True) is None


@pytest.mark.parametrize("blocks", [1, 3, 64])
@pytest.mark.parametrize("subsampling", SUBSAMPLING)
def test_restart_intervals(blocks: int, subsampling: str) -> None:
    data = jpeg(
        picture(1090, 1040, 5), quality=90, subsampling=subsampling, restart_marker_blocks=blocks
    )
    assert b"\xff\xdd" in data
    compare(data)
    compare(
        jpeg(picture(1090, 1040, 5), quality=70, restart_marker_rows=2, subsampling=subsampling)
    )


@pytest.mark.parametrize("subsampling", SUBSAMPLING)
@pytest.mark.parametrize("quality", [15, 75, 95])
def test_progressive(subsampling: str, quality: int) -> None:
    # libjpeg's progression: DC first with Al = 1, then a DC refinement scan.
    data = jpeg(picture(1210, 1020, 6), quality=quality, progressive=True, subsampling=subsampling)
    compare(data)
    compare(
        jpeg(picture(1210, 1020, 6), quality=quality, progressive=True, restart_marker_blocks=5)
    )


def test_optimized_tables() -> None:
    compare(jpeg(picture(1200, 1040, 7), quality=88, optimize=True))


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_exif_orientation(orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = jpeg(picture(1300, 1040, 8), quality=90, exif=exif.tobytes())
    compare(data)
    got = _core._jpeg_reduced(data, 128, 0, True)
    assert got is not None and got[4] == orientation


def test_larger_scales_keep_jpeg_decoder() -> None:
    data = jpeg(picture(1000, 900, 9), quality=90)
    got = _core._jpeg_reduced(data, 256, 0, True)
    assert got is not None and not got[5]


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95, 0.999])
@pytest.mark.parametrize("progressive", [False, True])
def test_truncated(cut: float, progressive: bool) -> None:
    data = jpeg(picture(1100, 1040, 10), quality=90, progressive=progressive)
    bad = data[: int(len(data) * cut)]
    old = _core._jpeg_reduced(bad, 128, 0, False)
    new = _core._jpeg_reduced(bad, 128, 0, True)
    # jpeg-decoder refuses truncated data (the caller then decodes at full size); so does the
    # DC-only decoder, which leaves it to jpeg-decoder.
    assert old is None and new is None


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """`data` with a few bits flipped, one byte replaced, or a run of bytes cut out."""
    d = bytearray(data)
    p = int(rng.integers(2, len(d)))
    match int(rng.integers(0, 3)):
        case 0:
            for q in rng.integers(2, len(d), int(rng.integers(1, 4))):
                d[q] ^= 1 << int(rng.integers(0, 8))
        case 1:
            d[p] = int(rng.integers(0, 256))
        case _:
            del d[p : p + int(rng.integers(1, 20))]
    return bytes(d)


@pytest.mark.parametrize("progressive", [False, True])
def test_corrupt(progressive: bool) -> None:
    rng = np.random.default_rng(int(progressive))
    bases = [
        jpeg(picture(300, 260, 1), quality=80, progressive=progressive),
        jpeg(picture(300, 260, 3), quality=60, restart_marker_blocks=3, subsampling="4:2:2"),
        jpeg(picture(200, 170, 4, "L"), quality=90, progressive=progressive),
    ]
    decoded = 0
    for i in range(600):
        data = mutate(bases[i % len(bases)], rng)
        old = _core._jpeg_reduced(data, 1, 0, False)
        new = _core._jpeg_reduced(data, 1, 0, True)
        if new is None or not new[5]:
            # Left to jpeg-decoder: the same outcome by construction.
            assert (old is None) == (new is None)
            continue
        decoded += 1
        if old is not None:
            assert old[:5] == new[:5]
        elif not progressive or i % len(bases) == 1:
            # Baseline: whatever jpeg-decoder refuses, the DC-only decoder refuses too. The AC
            # scans of progressive files are never read, so corruption there goes unnoticed.
            raise AssertionError(f"mutation {i}: decoded data jpeg-decoder refuses")
    assert decoded > 100


@settings(max_examples=40, deadline=None)
@given(
    w=st.integers(1, 700),
    h=st.integers(1, 700),
    quality=st.integers(10, 100),
    subsampling=st.sampled_from(SUBSAMPLING),
    progressive=st.booleans(),
    gray=st.booleans(),
    restart=st.sampled_from([0, 1, 2, 7]),
    seed=st.integers(0, 1000),
)
def test_random(
    w: int,
    h: int,
    quality: int,
    subsampling: str,
    progressive: bool,
    gray: bool,
    restart: int,
    seed: int,
) -> None:
    img = picture(w, h, seed, "L" if gray else "RGB")
    kw: dict[str, object] = {"quality": quality, "progressive": progressive}
    if not gray:
        kw["subsampling"] = subsampling
    if restart:
        kw["restart_marker_blocks"] = restart
    compare(jpeg(img, **kw), 1)


def patch_sof(data: bytes, width: int, height: int, factors: list[int]) -> bytes:
    """`data` with its frame header saying another size and sampling factors. Chosen so the MCU
    count and each MCU's block sequence (component by component) stay the same, the entropy-coded
    data remains valid: a way to make the sampling layouts Pillow does not write."""
    out = bytearray(data)
    sof = next(i for i in range(len(out) - 1) if out[i] == 0xFF and out[i + 1] in (0xC0, 0xC2))
    out[sof + 5 : sof + 9] = bytes([height >> 8, height & 255, width >> 8, width & 255])
    for c, f in enumerate(factors):
        out[sof + 11 + 3 * c] = f
    return bytes(out)


@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize(
    ("subsampling", "size", "patched", "factors"),
    [
        # 4:2:2 (Y 2x1) read as 4:4:0 (Y 1x2): 40 x 30 MCUs either way.
        ("4:2:2", (640, 240), (317, 473), [0x12, 0x11, 0x11]),
        # 4:2:0 (Y 2x2) read as 4:1:1 (Y 4x1) and as Y 1x4.
        ("4:2:0", (640, 320), (1275, 157), [0x41, 0x11, 0x11]),
        ("4:2:0", (640, 320), (317, 637), [0x14, 0x11, 0x11]),
    ],
)
def test_other_sampling_layouts(
    subsampling: str,
    size: tuple[int, int],
    patched: tuple[int, int],
    factors: list[int],
    progressive: bool,
) -> None:
    data = jpeg(
        picture(*size, seed=12), quality=80, subsampling=subsampling, progressive=progressive
    )
    compare(patch_sof(data, *patched, factors), 1)


def test_gray_with_declared_sampling() -> None:
    # One component declaring 2x2 sampling: its scan is still ceil(w/8) x ceil(h/8) blocks.
    data = jpeg(picture(333, 251, 13, "L"), quality=80)
    compare(patch_sof(data, 333, 251, [0x22]), 1)
