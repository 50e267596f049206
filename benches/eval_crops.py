"""Crop-resistant matching on the Debian wallpapers: recall on crops, false pairs between pictures.

Every non-icon image of ``~/.cache/mmdedup-corpora/images/images.parquet`` (desktop-base: the
themes' GRUB wallpapers in 16:9 and 4:3, their login previews, the Debian logos) is an
original; each original of at least 256 px a side is cropped by 10, 20 and 30% from the left,
the right, the top, the bottom and from the top-left corner (both sides), and saved as JPEG
(quality 90). Pictures: a theme (its wallpapers and previews show one artwork), or a logo
(``logo``, ``logo-text``, ``logo-text-version`` at every size).

For whole-image pHash and dHash (``hamming_clusters`` pairs at ``-k``) and for region hashes
(``region_pairs`` at ``-k`` with ``min_matches`` 1, 2 and 3), it prints the share of crops
matched with their own original (per cut) and the false-pair rate: pairs of images of
different pictures (originals and crops alike) matched, over all such pairs.

    .venv/bin/python benches/eval_crops.py [--root DIR] [-k 8] [--mode canonical]
"""

from __future__ import annotations

import argparse
import io
import re
import time
from pathlib import Path

import mmdedup
import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq
from PIL import Image

CUTS = (0.1, 0.2, 0.3)
SIDES = ("left", "right", "top", "bottom", "corner")


def picture(path: str) -> str:
    """The picture an image shows: its theme, or its logo variant."""
    m = re.search(r"/([\w-]+)-theme/", path)
    if m:
        return m[1]
    return re.sub(r"-\d+\.png$", "", path.rsplit("/", 1)[-1])


def cut(img: Image.Image, side: str, f: float) -> Image.Image:
    w, h = img.size
    dx, dy = int(w * f), int(h * f)
    box = {
        "left": (dx, 0, w, h),
        "right": (0, 0, w - dx, h),
        "top": (0, dy, w, h),
        "bottom": (0, 0, w, h - dy),
        "corner": (dx, dy, w, h),
    }[side]
    return img.crop(box)


def corpus(root: Path) -> tuple[list[bytes], list[str], list[int], list[str]]:
    """Images, their picture, their original (own index for originals) and their cut."""
    t = pq.read_table(root / "images.parquet", columns=["path", "bytes"])
    blobs: list[bytes] = []
    pics: list[str] = []
    owner: list[int] = []
    label: list[str] = []
    for path, data in zip(t["path"].to_pylist(), t["bytes"].to_pylist(), strict=True):
        if path.startswith("icons/"):
            continue
        blobs.append(data)
        pics.append(picture(path))
        owner.append(len(owner))
        label.append("original")
    for i in range(len(blobs)):
        with Image.open(io.BytesIO(blobs[i])) as im:
            if min(im.size) < 256:
                continue
            rgb = im.convert("RGB")
        for side in SIDES:
            for f in CUTS:
                buf = io.BytesIO()
                cut(rgb, side, f).save(buf, "JPEG", quality=90)
                blobs.append(buf.getvalue())
                pics.append(pics[i])
                owner.append(i)
                label.append(f"{side} {int(100 * f)}%")
    return blobs, pics, owner, label


def summarize(
    name: str,
    pairs: set[tuple[int, int]],
    pics: list[str],
    owner: list[int],
    label: list[str],
) -> None:
    crops = [j for j in range(len(owner)) if owner[j] != j]
    by_cut: dict[str, list[bool]] = {}
    for j in crops:
        key = label[j].split()[1]
        by_cut.setdefault(key, []).append((owner[j], j) in pairs)
    pic = np.array(pics, dtype=object)
    diff_total = int((pic[:, None] != pic[None, :]).sum()) // 2
    false = sum(pics[a] != pics[b] for a, b in pairs)
    recall = " ".join(f"{k}: {np.mean(v):.2f}" for k, v in sorted(by_cut.items()))
    allr = np.mean([x for v in by_cut.values() for x in v])
    print(
        f"| {name} | {recall} | {allr:.2f} | {false} of {diff_total} = "
        f"{100 * false / diff_total:.2f}% |"
    )


def whole_pairs(blobs: list[bytes], method: str, mode: str, k: int) -> set[tuple[int, int]]:
    t = mmdedup.image_hash(blobs, method=method, mode=mode)  # type: ignore[arg-type]
    h = np.asarray(t["hash"].to_numpy(), dtype=np.uint64)
    d: npt.NDArray[np.uint8] = np.bitwise_count(h[:, None] ^ h[None, :])
    a, b = np.nonzero(np.triu(d <= k, 1))
    return set(zip(a.tolist(), b.tolist(), strict=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--root", type=Path, default=Path.home() / ".cache/mmdedup-corpora/images", help="corpus"
    )
    ap.add_argument("-k", type=int, default=8, help="Hamming distance (default 8)")
    ap.add_argument("--mode", default="canonical", choices=("canonical", "compatible"))
    ap.add_argument("--region-method", default="dhash")
    args = ap.parse_args()

    blobs, pics, owner, label = corpus(args.root)
    n_orig = sum(o == i for i, o in enumerate(owner))
    print(
        f"{n_orig} originals ({len(set(pics))} pictures), {len(blobs) - n_orig} crops; "
        f"mode {args.mode}, k = {args.k}\n"
    )
    print("| matcher | crops matched with their original, per cut | all | false pairs |")
    print("| --- | --- | ---: | ---: |")
    for method in ("phash", "dhash"):
        summarize(
            f"whole-image {method}",
            whole_pairs(blobs, method, args.mode, args.k),
            pics,
            owner,
            label,
        )
    t0 = time.perf_counter()
    r = mmdedup.region_hashes(blobs, method=args.region_method, mode=args.mode)
    dt = time.perf_counter() - t0
    counts = np.asarray([len(x) for x in r["regions"].to_pylist() if x is not None], dtype=np.int64)
    for m in (1, 2, 3):
        t = mmdedup.region_pairs(r, max_distance=args.k, min_matches=m)
        pairs = set(zip(t["a"].to_pylist(), t["b"].to_pylist(), strict=True))
        summarize(f"regions ({args.region_method}), ≥ {m} matched", pairs, pics, owner, label)
    print(
        f"\nregion hashing: {dt:.1f} s for {len(blobs)} images; regions per image: median "
        f"{int(np.median(counts))}, max {int(counts.max())}"
    )


if __name__ == "__main__":
    main()
