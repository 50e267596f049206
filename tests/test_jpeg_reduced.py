"""Our own scaled JPEG decoder against the jpeg-decoder decodes it replaces, at every scale it
takes: 1/8 (DC only: canonical pHash / aHash), 1/4 (dHash) and 1/2 (PDQ). The same pixels,
orientation and hashes, or a fallback to jpeg-decoder."""

from __future__ import annotations

import io

import mmdedup
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmdedup import _core
from PIL import Image, ImageFile

SUBSAMPLING = ["4:4:4", "4:2:2", "4:2:0"]
# Scales in eighths: 1/8, 1/4, 1/2.
SCALES = [1, 2, 4]
# How canonical hashing asks for each hash's decode: (method, min_side, min_long).
CANONICAL = [("phash", 128, 0), ("ahash", 64, 0), ("dhash", 256, 0), ("pdq", 0, 512)]


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
    # An output buffer for the whole file: Pillow's can be too small with optimize=True.
    maxblock = ImageFile.MAXBLOCK
    ImageFile.MAXBLOCK = max(maxblock, 4 * img.width * img.height)
    try:
        img.save(buf, "JPEG", **kw)
    finally:
        ImageFile.MAXBLOCK = maxblock
    return buf.getvalue()


def scaled(w: int, h: int, scale: int) -> tuple[int, int]:
    return -(-w * scale // 8), -(-h * scale // 8)


def side_for(short: int, scale: int) -> int:
    """A `min_side` for which `scale`/8 is the smallest scale that reaches it: between the
    shorter side at half that scale and at that scale (clear of rounding in the choice)."""
    return max(1, (-(-short * scale // 16) + -(-short * scale // 8)) // 2)


def compare(
    data: bytes, scale: int = 1, *, progressive: bool = False, hashes: bool = False
) -> None:
    """Both paths decode `data` identically at `scale`/8 (or a smaller scale where that already
    reaches the size asked for: tiny images), and ours ran unless the frame is progressive and
    the scale not 1/8. With `hashes`, each canonical hash of the JPEG equals that of a PNG of
    jpeg-decoder's reduced decode."""
    w, h = Image.open(io.BytesIO(data)).size
    min_side = side_for(min(w, h), scale)
    old = _core._jpeg_reduced(data, min_side, 0, False)
    new = _core._jpeg_reduced(data, min_side, 0, True)
    assert old is not None and new is not None
    assert old[:5] == new[:5]
    assert not old[5]
    chosen = next(s for s in (1, 2, 4, 8) if new[:2] == scaled(w, h, s))
    assert chosen == scale or (chosen < scale and min(w, h) < 16)
    assert new[5] == (chosen == 1 or not progressive)
    if hashes:
        check_hashes(data)


def check_hashes(data: bytes) -> None:
    for method, min_side, min_long in CANONICAL:
        # The JPEG (decoded by our decoder) hashes like a PNG of jpeg-decoder's reduced pixels
        # with the same orientation.
        old = _core._jpeg_reduced(data, min_side, min_long, False)
        assert old is not None
        w, h, channels, pixels, orientation, _ = old
        img = Image.frombytes("L" if channels == 1 else "RGB", (w, h), pixels)
        exif = Image.Exif()
        exif[0x0112] = orientation
        buf = io.BytesIO()
        img.save(buf, "PNG", exif=exif.tobytes())
        got = mmdedup.image_hashes([data], methods=[method]).column(method).to_pylist()
        want = mmdedup.image_hashes([buf.getvalue()], methods=[method]).column(method).to_pylist()
        assert got == want, method


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("subsampling", SUBSAMPLING)
@pytest.mark.parametrize("quality", [5, 10, 50, 90, 100])
def test_subsampling_and_quality(subsampling: str, quality: int, scale: int) -> None:
    data = jpeg(picture(1300, 1030, 1), quality=quality, subsampling=subsampling)
    compare(data, scale, hashes=scale == 1 and quality in (50, 100))


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("size", [(1, 1), (7, 9), (17, 33), (1023, 1025), (1234, 999), (129, 2000)])
@pytest.mark.parametrize("subsampling", SUBSAMPLING)
def test_odd_sizes(size: tuple[int, int], subsampling: str, scale: int) -> None:
    data = jpeg(picture(*size, seed=size[0]), quality=85, subsampling=subsampling)
    compare(data, scale)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("progressive", [False, True])
def test_grayscale(progressive: bool, scale: int) -> None:
    data = jpeg(picture(1111, 1077, 2, "L"), quality=75, progressive=progressive)
    # Progressive frames: ours only at 1/8, where the AC scans are not needed.
    compare(data, scale, progressive=progressive, hashes=True)


@pytest.mark.parametrize("scale", SCALES)
def test_rgb_colorspace(scale: int) -> None:
    # keep_rgb stores R, G, B components (ids 'R', 'G', 'B'): no colour conversion.
    compare(jpeg(picture(1100, 1050, 3), quality=80, keep_rgb=True, subsampling="4:4:4"), scale)


@pytest.mark.parametrize("min_side", [128, 256, 512, 1050])
def test_cmyk_is_left_to_the_full_decode(min_side: int) -> None:
    data = jpeg(picture(1100, 1050, 4, "CMYK"), quality=80)
    assert _core._jpeg_reduced(data, min_side, 0, True) is None


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("blocks", [1, 3, 64])
@pytest.mark.parametrize("subsampling", SUBSAMPLING)
def test_restart_intervals(blocks: int, subsampling: str, scale: int) -> None:
    data = jpeg(
        picture(1090, 1040, 5), quality=90, subsampling=subsampling, restart_marker_blocks=blocks
    )
    assert b"\xff\xdd" in data
    compare(data, scale)
    compare(
        jpeg(picture(1090, 1040, 5), quality=70, restart_marker_rows=2, subsampling=subsampling),
        scale,
    )


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("subsampling", SUBSAMPLING)
@pytest.mark.parametrize("quality", [15, 75, 95])
def test_progressive(subsampling: str, quality: int, scale: int) -> None:
    # libjpeg's progression: DC first with Al = 1, then a DC refinement scan. At 1/4 and 1/2
    # progressive frames are left to jpeg-decoder.
    data = jpeg(picture(1210, 1020, 6), quality=quality, progressive=True, subsampling=subsampling)
    compare(data, scale, progressive=True)
    compare(
        jpeg(picture(1210, 1020, 6), quality=quality, progressive=True, restart_marker_blocks=5),
        scale,
        progressive=True,
    )


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("quality", [5, 88, 100])
def test_optimized_tables(quality: int, scale: int) -> None:
    compare(jpeg(picture(1200, 1040, 7), quality=quality, optimize=True), scale)


@pytest.mark.parametrize("scale", SCALES)
def test_flat_and_extreme_content(scale: int) -> None:
    # Saturated colours and hard edges at q100: large coefficients, clamped samples.
    rng = np.random.default_rng(scale)
    a = (rng.integers(0, 2, (260, 330, 3)) * 255).astype(np.uint8)
    a[:, :40] = 0
    a[:, 40:80] = 255
    for q in (5, 100):
        for sub in SUBSAMPLING:
            compare(jpeg(Image.fromarray(a, "RGB"), quality=q, subsampling=sub), scale)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_exif_orientation(orientation: int, scale: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = jpeg(picture(1300, 1040, 8), quality=90, exif=exif.tobytes())
    compare(data, scale, hashes=scale == 1)
    got = _core._jpeg_reduced(data, side_for(1040, scale), 0, True)
    assert got is not None and got[4] == orientation and got[5]


def test_canonical_requests_take_our_decoder() -> None:
    # 1080p: pHash / aHash decode at 1/8, dHash at 1/4, PDQ at 1/2, all by our decoder.
    data = jpeg(picture(1920, 1080, 11), quality=90)
    sizes = {"phash": (240, 135), "ahash": (240, 135), "dhash": (480, 270), "pdq": (960, 540)}
    for method, min_side, min_long in CANONICAL:
        got = _core._jpeg_reduced(data, min_side, min_long, True)
        assert got is not None and got[:2] == sizes[method] and got[5], method
    check_hashes(data)


def test_full_scale_keeps_jpeg_decoder() -> None:
    data = jpeg(picture(1000, 900, 9), quality=90)
    got = _core._jpeg_reduced(data, 256, 0, True)
    assert got is not None and got[:2] == (500, 450) and got[5]
    got = _core._jpeg_reduced(data, 800, 0, True)
    assert got is not None and got[:2] == (1000, 900) and not got[5]


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95, 0.999])
@pytest.mark.parametrize("progressive", [False, True])
def test_truncated(cut: float, progressive: bool, scale: int) -> None:
    data = jpeg(picture(1100, 1040, 10), quality=90, progressive=progressive)
    bad = data[: int(len(data) * cut)]
    min_side = side_for(1040, scale)
    # Data that ends before its EOI marker is refused before either decoder reads it, as Pillow
    # refuses it ("image file is truncated"), rather than left to the full-size decode, which
    # would fill the missing rows.
    for own in (False, True):
        with pytest.raises(mmdedup.InputError, match="image file is truncated"):
            _core._jpeg_reduced(bad, min_side, 0, own)


def reduced(data: bytes, min_side: int, own: bool) -> tuple[object, ...] | str | None:
    """`_core._jpeg_reduced`, or the message of the error it raises (a truncated file)."""
    try:
        return _core._jpeg_reduced(data, min_side, 0, own)
    except mmdedup.InputError as e:
        return str(e)


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


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("progressive", [False, True])
def test_corrupt(progressive: bool, scale: int) -> None:
    rng = np.random.default_rng(int(progressive) + 2 * scale)
    bases = [
        jpeg(picture(300, 260, 1), quality=80, progressive=progressive),
        jpeg(picture(300, 260, 3), quality=60, restart_marker_blocks=3, subsampling="4:2:2"),
        jpeg(picture(200, 170, 4, "L"), quality=90, progressive=progressive),
    ]
    decoded = 0
    for i in range(600):
        data = mutate(bases[i % len(bases)], rng)
        # Shorter sides 260 and 170: these ask for `scale`/8 of an unmutated file.
        min_side = side_for(170 if i % len(bases) == 2 else 260, scale)
        old = reduced(data, min_side, False)
        new = reduced(data, min_side, True)
        if isinstance(new, str) or isinstance(old, str):
            # A cut that reaches the EOI marker: refused the same way before either decoder.
            assert old == new
            continue
        if new is None or not new[5]:
            # Left to jpeg-decoder: the same outcome by construction.
            assert (old is None) == (new is None)
            continue
        decoded += 1
        if old is not None:
            assert old[:5] == new[:5]
        elif not progressive or i % len(bases) == 1:
            # Baseline: whatever jpeg-decoder refuses, our decoder refuses too. The AC scans of
            # progressive files are never read (at 1/8, the only scale ours decodes them at), so
            # corruption there goes unnoticed.
            raise AssertionError(f"mutation {i}: decoded data jpeg-decoder refuses")
    # Progressive files at 1/4 and 1/2 are left to jpeg-decoder: only every third base is ours.
    assert decoded > (50 if progressive and scale > 1 else 100)


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
    scale=st.sampled_from(SCALES),
    optimize=st.booleans(),
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
    scale: int,
    optimize: bool,
) -> None:
    img = picture(w, h, seed, "L" if gray else "RGB")
    kw: dict[str, object] = {"quality": quality, "progressive": progressive, "optimize": optimize}
    if not gray:
        kw["subsampling"] = subsampling
    if restart:
        kw["restart_marker_blocks"] = restart
    compare(jpeg(img, **kw), scale, progressive=progressive)


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


@pytest.mark.parametrize("scale", SCALES)
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
    scale: int,
) -> None:
    data = jpeg(
        picture(*size, seed=12), quality=80, subsampling=subsampling, progressive=progressive
    )
    compare(patch_sof(data, *patched, factors), scale, progressive=progressive)


@pytest.mark.parametrize("scale", SCALES)
def test_gray_with_declared_sampling(scale: int) -> None:
    # One component declaring 2x2 sampling: its scan is still ceil(w/8) x ceil(h/8) blocks.
    data = jpeg(picture(333, 251, 13, "L"), quality=80)
    compare(patch_sof(data, 333, 251, [0x22]), scale)
