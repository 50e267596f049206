"""Crop-resistant region hashes and their matching."""

from __future__ import annotations

import io

import imagehash
import mmdedup
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmdedup.errors import ParameterError
from PIL import Image, ImageDraw


def encode(img: Image.Image, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def shapes(seed: int, w: int, h: int) -> Image.Image:
    """Hard-edged discs and triangles with gradient fills on a gradient background: regions are
    clear-cut (no pixel near the threshold after the blur) and no region's box is flat."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, w)[None, :]
    y = np.linspace(0, 1, h)[:, None]
    bg = (20 + 60 * x * y + 20 * x).astype(np.uint8)
    img = Image.fromarray(np.dstack([bg, bg, bg]), "RGB")
    d = ImageDraw.Draw(img)
    for k in range(int(rng.integers(2, 5))):
        cx, cy = int(rng.integers(w // 6, 5 * w // 6)), int(rng.integers(h // 6, 5 * h // 6))
        r = int(rng.integers(min(w, h) // 10, min(w, h) // 5))
        col = (
            int(rng.integers(190, 250)),
            int(rng.integers(170, 250)),
            int(rng.integers(170, 250)),
        )
        if k % 2:
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=col)
        else:
            d.polygon([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)], fill=col)
    # Texture inside the bright shapes too, so no crop is flat.
    a = np.asarray(img).astype(np.int16)
    a += (8 * np.sin(np.arange(w) / 7.0)[None, :, None]).astype(np.int16)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")


def photo(seed: int, w: int = 640, h: int = 480) -> Image.Image:
    """Smooth noise with structure at several scales: many bright and dark regions."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3))
    for cells, weight in ((4, 1.0), (12, 0.5), (40, 0.25)):
        base = rng.integers(0, 256, size=(cells, cells * w // h, 3), dtype=np.uint8)
        layer = Image.fromarray(base, "RGB").resize((w, h), Image.Resampling.BICUBIC)
        img += weight * (np.asarray(layer, dtype=np.float64) - 128)
    return Image.fromarray(np.clip(128 + img / 1.2, 0, 255).astype(np.uint8), "RGB")


def crop(img: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = img.size
    return img.crop((int(w * left), int(h * top), int(w * (1 - right)), int(h * (1 - bottom))))


@pytest.mark.parametrize("seed,size", [(0, (300, 300)), (1, (450, 300)), (2, (320, 480))])
def test_compatible_regions_equal_imagehash(seed: int, size: tuple[int, int]) -> None:
    img = shapes(seed, *size)
    data = encode(img)
    theirs = imagehash.crop_resistant_hash(Image.open(io.BytesIO(data)))
    want = [int(str(h), 16) for h in theirs.segment_hashes]
    got = mmdedup.region_hashes([data], mode="compatible")["regions"][0].as_py()
    assert len(want) >= 3
    assert got == want


def test_max_regions_keeps_the_largest_as_imagehash() -> None:
    data = encode(shapes(3, 400, 300))
    theirs = imagehash.crop_resistant_hash(Image.open(io.BytesIO(data)), limit_segments=2)
    want = [int(str(h), 16) for h in theirs.segment_hashes]
    got = mmdedup.region_hashes([data], mode="compatible", max_regions=2)["regions"][0].as_py()
    assert got == want


@pytest.mark.parametrize("mode", ["canonical", "compatible"])
def test_crops_match_and_other_photos_do_not(mode: str) -> None:
    originals = [photo(s) for s in range(4)]
    cuts = [
        (0.1, 0.0, 0.0, 0.0),
        (0.0, 0.15, 0.0, 0.1),
        (0.2, 0.1, 0.0, 0.0),
        (0.0, 0.0, 0.3, 0.0),
        (0.15, 0.15, 0.0, 0.0),
    ]
    blobs = [encode(o) for o in originals]
    owner = list(range(len(originals)))
    for i, o in enumerate(originals):
        for c in cuts:
            blobs.append(encode(crop(o, *c), "JPEG", quality=90))
            owner.append(i)
    t = mmdedup.region_hashes(blobs, mode=mode)
    assert t["error"].null_count == len(blobs)
    pairs = mmdedup.region_pairs(t, max_distance=8)
    found = {(a, b) for a, b in zip(pairs["a"].to_pylist(), pairs["b"].to_pylist(), strict=True)}
    crops_found = sum((owner[j], j) in found for j in range(len(originals), len(blobs)))
    assert crops_found >= 0.75 * (len(blobs) - len(originals))
    false = [(a, b) for a, b in found if owner[a] != owner[b]]
    assert not false
    labels = mmdedup.region_clusters(t, max_distance=8)
    assert len(set(labels[: len(originals)].tolist())) == len(originals)


def brute_pairs(lists: list[list[int]], k: int, m: int) -> list[tuple[int, int, int]]:
    def count(a: list[int], b: list[int]) -> int:
        return sum(any(bin(x ^ y).count("1") <= k for y in b) for x in a)

    out = []
    for i in range(len(lists)):
        for j in range(i + 1, len(lists)):
            c = min(count(lists[i], lists[j]), count(lists[j], lists[i]))
            if c >= m:
                out.append((i, j, c))
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.sampled_from([0, 2**64 - 1, 0xF0F0F0F00F0F0F0F]), st.integers(0, 2**64 - 1)
            ),
            max_size=5,
        ),
        max_size=12,
    ),
    st.integers(0, 12),
    st.integers(1, 3),
)
def test_region_pairs_match_brute_force(rows: list[list[tuple[int, int]]], k: int, m: int) -> None:
    # Hashes near three centres: a few noise bits each.
    lists = [[c ^ (n & (n >> 7) & (n >> 19)) for c, n in row] for row in rows]
    t = mmdedup.region_pairs(pa.array(lists, pa.list_(pa.uint64())), max_distance=k, min_matches=m)
    got = list(zip(t["a"].to_pylist(), t["b"].to_pylist(), t["matches"].to_pylist(), strict=True))
    assert got == brute_pairs(lists, k, m)


def test_image_hashes_regions_column_and_errors() -> None:
    blobs = [encode(photo(0, 200, 150)), b"not an image"]
    t = mmdedup.image_hashes(blobs, methods=["phash"], regions=True)
    assert t.column_names == ["phash", "regions", "width", "height", "error"]
    assert t.schema.metadata[b"mmdedup.region_method"] == b"dhash"
    assert len(t["regions"][0].as_py()) >= 1 and t["regions"][1].as_py() is None
    r = mmdedup.region_hashes(blobs)
    assert r["regions"].to_pylist() == t["regions"].to_pylist()
    with pytest.raises(ParameterError):
        mmdedup.image_hashes(blobs, regions=True, frames="all")
    with pytest.raises(ParameterError):
        mmdedup.region_hashes(blobs, method="pdq")
    with pytest.raises(ParameterError):
        mmdedup.region_hashes(blobs, max_regions=0)
    with pytest.raises(ParameterError):
        mmdedup.region_pairs([[1]], min_matches=0)


def test_region_hashes_do_not_depend_on_threads() -> None:
    blobs = [encode(photo(s, 160, 120)) for s in range(6)]
    before = mmdedup.get_num_threads()
    try:
        mmdedup.set_num_threads(1)
        one = mmdedup.region_hashes(blobs)
        mmdedup.set_num_threads(2)
        two = mmdedup.region_hashes(blobs, memory=1 << 20)
    finally:
        mmdedup.set_num_threads(before)
    assert one.equals(two)
