"""Agreement with the reference libraries and near-duplicate quality on the image corpus.

For pHash and dHash (hash_size 8) and PDQ, on every image of
``~/.cache/mmdedup-corpora/images`` (icon themes at several sizes, with alpha, and wallpapers at
several resolutions; rows of the same ``group`` are the same picture at several sizes):

1. how often mmdedup's ``compatible`` mode is bit-identical to ImageHash 4.3 on Pillow (PDQ: to
   ``pdqhash.compute`` on the RGB array after the reference's ``thumbnail((512, 512))``), and
   the mean Hamming distance; ``canonical`` mode against the same references for comparison;
2. for k in {4, 8, 10} (PDQ: 31), the recall of same-group pairs (distance ≤ k) and the exact
   number of different-group pairs within k, for mmdedup canonical, mmdedup compatible and the
   reference side by side.

All pairs are compared exactly (numpy XOR + popcount in blocks over the ~75M pairs).

    .venv/bin/python benches/eval_images.py [--root DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import mmdedup
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

U64 = npt.NDArray[np.uint64]
Bool = npt.NDArray[np.bool_]
# A set of hashes: (n, words) uint64 (1 word for 64-bit hashes, 4 for PDQ) and a "failed" mask.
Hashes = tuple[U64, Bool]

METHODS = ("phash", "dhash", "pdq")
KS: dict[str, tuple[int, ...]] = {"phash": (4, 8, 10), "dhash": (4, 8, 10), "pdq": (31,)}
REFERENCE = {"phash": "ImageHash", "dhash": "ImageHash", "pdq": "pdqhash"}


def from_table(col: pa.ChunkedArray, bits: int) -> Hashes:
    """mmdedup's hash column as (n, words) uint64 and a null mask."""
    failed = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
    if bits <= 64:
        vals = np.asarray(col.fill_null(0).to_numpy(), dtype=np.uint64).reshape(-1, 1)
        return vals, failed
    raw = np.zeros((len(col), bits // 8), dtype=np.uint8)
    for i, v in enumerate(col.to_pylist()):
        if v is not None:
            raw[i] = np.frombuffer(v, dtype=np.uint8)
    return raw.view(">u8").astype(np.uint64), failed


def mmdedup_hashes(
    paths: list[str], method: str, mode: str
) -> tuple[Hashes, float, npt.NDArray[np.int64]]:
    """Hashes, seconds, and the smaller side of each image as decoded."""
    t0 = time.perf_counter()
    t = mmdedup.image_hash(paths, method=method, mode=mode)  # type: ignore[arg-type]
    dt = time.perf_counter() - t0
    side = np.minimum(t["width"].to_numpy(), t["height"].to_numpy()).astype(np.int64)
    return from_table(t["hash"], 256 if method == "pdq" else 64), dt, side


def reference_hashes(paths: list[str], method: str) -> tuple[Hashes, float]:
    """ImageHash 4.3 (pHash, dHash) or pdqhash after the reference's 512×512 thumbnail."""
    import imagehash
    from PIL import Image

    words = 4 if method == "pdq" else 1
    vals = np.zeros((len(paths), words), dtype=np.uint64)
    failed = np.zeros(len(paths), dtype=np.bool_)
    fn: Callable[[Image.Image], imagehash.ImageHash] | None = None
    if method == "phash":
        fn = imagehash.phash
    elif method == "dhash":
        fn = imagehash.dhash
    t0 = time.perf_counter()
    for i, p in enumerate(paths):
        try:
            with Image.open(p) as img:
                if fn is not None:
                    vals[i, 0] = int(str(fn(img)), 16)
                else:
                    import pdqhash  # type: ignore[import-untyped]

                    img.thumbnail((512, 512))
                    bits, _quality = pdqhash.compute(np.asarray(img.convert("RGB")))
                    packed = np.packbits(np.asarray(bits, dtype=np.uint8))
                    vals[i] = packed.view(">u8").astype(np.uint64)
        except Exception:
            failed[i] = True
    return (vals, failed), time.perf_counter() - t0


def popcount(x: U64) -> npt.NDArray[np.uint8]:
    return np.bitwise_count(x)


def distances(a: U64, b: U64) -> npt.NDArray[np.int64]:
    """Row-wise Hamming distance between two (n, words) arrays."""
    out: npt.NDArray[np.int64] = popcount(a ^ b).astype(np.int64).sum(axis=1)
    return out


def agreement(ours: Hashes, ref: Hashes) -> tuple[int, float, float, int]:
    """(images compared, share identical, mean distance, max distance) where both succeeded."""
    ok = ~ours[1] & ~ref[1]
    d = distances(ours[0][ok], ref[0][ok])
    if not len(d):
        return 0, float("nan"), float("nan"), 0
    return int(ok.sum()), float((d == 0).mean()), float(d.mean()), int(d.max())


def pair_stats(
    h: Hashes, gid: npt.NDArray[np.int64], ks: tuple[int, ...], block: int = 512
) -> tuple[dict[int, int], dict[int, int], int]:
    """(same-group pairs within k, different-group pairs within k, same-group pairs in all).

    A pair with a failed image is never within k."""
    vals, failed = h
    n = len(vals)
    kmax = max(ks)
    same_hist = np.zeros(vals.shape[1] * 64 + 1, dtype=np.int64)
    diff_hist = np.zeros_like(same_hist)
    same_total = 0
    idx = np.arange(n)
    for s in range(0, n, block):
        e = min(n, s + block)
        d = np.zeros((e - s, n), dtype=np.int64)
        for w in range(vals.shape[1]):
            d += popcount(vals[s:e, w, None] ^ vals[None, :, w])
        upper = idx[None, :] > idx[s:e, None]
        same = gid[s:e, None] == gid[None, :]
        same_total += int((same & upper).sum())
        valid = upper & ~failed[s:e, None] & ~failed[None, :] & (d <= kmax)
        same_hist += np.bincount(d[valid & same], minlength=len(same_hist))
        diff_hist += np.bincount(d[valid & ~same], minlength=len(diff_hist))
    same_cum, diff_cum = np.cumsum(same_hist), np.cumsum(diff_hist)
    return (
        {k: int(same_cum[k]) for k in ks},
        {k: int(diff_cum[k]) for k in ks},
        same_total,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--root", type=Path, default=Path.home() / ".cache/mmdedup-corpora/images", help="corpus"
    )
    ap.add_argument("--limit", type=int, default=0, help="first N images only (0: all)")
    args = ap.parse_args()

    import imagehash
    import PIL

    table = pq.read_table(args.root / "images.parquet", columns=["path", "group", "bytes"])
    if args.limit:
        table = table.slice(0, args.limit)
    paths = [str(args.root / "files" / p) for p in table["path"].to_pylist()]
    groups = table["group"].to_pylist()
    _, gid_raw = np.unique(np.array(groups, dtype=object), return_inverse=True)
    gid = gid_raw.astype(np.int64)
    digests = [hashlib.sha1(b).digest() for b in table["bytes"].to_pylist()]
    _, did = np.unique(np.array(digests, dtype=object), return_inverse=True)
    n = len(paths)
    sizes = np.bincount(gid)
    print(
        f"corpus: {n} images, {len(sizes)} groups, {int((sizes * (sizes - 1) // 2).sum())} "
        f"same-group pairs; mmdedup {mmdedup.__version__}, ImageHash {imagehash.__version__}, "
        f"Pillow {PIL.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs"
    )
    ident_diff = 0
    for d in np.unique(did):
        members = gid[did == d]
        m = len(members)
        if m > 1:
            ident_diff += m * (m - 1) // 2 - sum(
                c * (c - 1) // 2 for c in np.unique(members, return_counts=True)[1]
            )
    print(f"different-group pairs of byte-identical files: {ident_diff}\n")

    results: dict[tuple[str, str], Hashes] = {}
    side = np.zeros(n, dtype=np.int64)
    for method in METHODS:
        for mode in ("canonical", "compatible"):
            results[(method, mode)], dt, side = mmdedup_hashes(paths, method, mode)
            print(f"  mmdedup {method:5s} {mode:10s} {dt:7.2f} s")
        results[(method, "reference")], dt = reference_hashes(paths, method)
        print(f"  {REFERENCE[method]:9s} {method:5s} {'':10s}{dt:7.2f} s")

    print("\nDecode failures (images with no hash):")
    print(f"| {'method':6s} | mmdedup canonical | mmdedup compatible | reference |")
    print("| --- | ---: | ---: | ---: |")
    for method in METHODS:
        f = [int(results[(method, m)][1].sum()) for m in ("canonical", "compatible", "reference")]
        print(f"| {method:6s} | {f[0]:17d} | {f[1]:18d} | {f[2]:9d} ({REFERENCE[method]}) |")

    print("\n(i) Agreement with the reference (images where both produced a hash)")
    print("| method | mmdedup mode | vs | images | bit-identical | mean distance | max |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for method in METHODS:
        for mode in ("compatible", "canonical"):
            cnt, same, mean, mx = agreement(results[(method, mode)], results[(method, "reference")])
            print(
                f"| {method} | {mode} | {REFERENCE[method]} | {cnt} | {same:.2%} | "
                f"{mean:.3f} | {mx} |"
            )

    print("\nmmdedup compatible vs reference by the image's smaller side")
    print("| method | smaller side | images | bit-identical | mean distance | max |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    buckets = [
        (0, 16, "≤ 16 px"),
        (17, 32, "17–32 px"),
        (33, 256, "33–256 px"),
        (257, 1 << 30, "> 256 px"),
    ]
    for method in METHODS:
        ours, ref = results[(method, "compatible")], results[(method, "reference")]
        for lo, hi, label in buckets:
            sel = (side >= lo) & (side <= hi)
            if sel.any():
                cnt, same, mean, mx = agreement(
                    (ours[0][sel], ours[1][sel]), (ref[0][sel], ref[1][sel])
                )
                print(f"| {method} | {label} | {cnt} | {same:.2%} | {mean:.3f} | {mx} |")

    print("\n(ii) Same-group recall and different-group pairs within distance k")
    print("| method | k | tool | same-group recall | different-group pairs ≤ k |")
    print("| --- | ---: | --- | ---: | ---: |")
    for method in METHODS:
        ks = KS[method]
        stats = {
            tool: pair_stats(results[(method, tool)], gid, ks)
            for tool in ("canonical", "compatible", "reference")
        }
        for k in ks:
            for tool in ("canonical", "compatible", "reference"):
                same_in, diff_in, total = stats[tool]
                name = REFERENCE[method] if tool == "reference" else f"mmdedup {tool}"
                print(
                    f"| {method} | {k} | {name} | {same_in[k] / max(total, 1):.2%} "
                    f"({same_in[k]}/{total}) | {diff_in[k]} |"
                )


if __name__ == "__main__":
    main()
