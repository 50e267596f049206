"""Crop-resistant matching on the Debian wallpapers: recall on crops, false pairs between pictures.

Every non-icon image of ``~/.cache/mmdedup-corpora/images/images.parquet`` (desktop-base: the
themes' GRUB wallpapers in 16:9 and 4:3, their login previews, the Debian logos) is an
original; each original of at least 256 px a side is cropped by 10, 20 and 30% from the left,
the right, the top, the bottom and from the top-left corner (both sides), and saved as JPEG
(quality 90). Pictures: a theme (its wallpapers and previews show one artwork), or a logo
(``logo``, ``logo-text``, ``logo-text-version`` at every size).

For whole-image pHash and dHash (``hamming_clusters`` pairs at ``-k``) and for region hashes
(``region_pairs`` at ``-k`` with ``min_matches`` 1, 2 and 3), and for the edges of
``mmdedup images --crops`` (whole-image pHash pairs and region pairs, regions of more than 300
segmentation pixels, at most 32 per image), it prints the share of crops
matched with their own original (per cut) and the false-pair rate: pairs of images of
different pictures (originals and crops alike) matched, over all such pairs.

    .venv/bin/python benches/eval_crops.py [--root DIR] [-k 8] [--mode canonical]

With ``--cli``, the same images go through ``mmdedup images`` instead (one Parquet shard, in a
temporary directory), without and with ``--crops`` (its defaults, ``--min-regions 1``, and
``--region-method ahash``), at ``-k`` 8 and 10, ``--rounds`` times each, interleaved: recall
and false pairs of the clusters (two images of one cluster are a pair), and the median run
time (``summary.json``'s ``seconds.total``) against the run without ``--crops``.

    .venv/bin/python benches/eval_crops.py --cli [--rounds 3]

``--synthetic``: 60 generated busy pictures (the test's), and crops of 10 of them, instead.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mmdedup
import numpy as np
import numpy.typing as npt
import pyarrow as pa
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


def photo(seed: int, w: int = 480, h: int = 360) -> Image.Image:
    """A busy photo-like picture (as in tests/test_images_crops.py): smooth colour fields at
    three scales and a dozen shapes on them."""
    from PIL import ImageDraw

    rng = np.random.default_rng(seed)
    acc = np.zeros((h, w, 3))
    for cells, amp in ((3, 1.0), (8, 0.6), (24, 0.3)):
        small = (rng.random((cells * h // w + 1, cells, 3)) * 255).astype(np.uint8)
        layer = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
        acc += amp * np.asarray(layer, dtype=np.float64)
    img = Image.fromarray((acc / acc.max() * 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x, y, s = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(15, 70))
        fill = tuple(int(c) for c in rng.integers(0, 256, 3))
        box = (x, y, x + s, y + int(s * rng.uniform(0.5, 1.5)))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
    return img


def synthetic(n: int = 60) -> tuple[list[bytes], list[str], list[int], list[str]]:
    """``n`` busy pictures (PNG), the crops of the first 10 (JPEG)."""
    blobs: list[bytes] = []
    for i in range(n):
        buf = io.BytesIO()
        photo(i).save(buf, "PNG")
        blobs.append(buf.getvalue())
    pics, owner, label = [str(i) for i in range(n)], list(range(n)), ["original"] * n
    for i in range(10):
        for side in SIDES:
            for f in CUTS:
                buf = io.BytesIO()
                cut(photo(i), side, f).save(buf, "JPEG", quality=90)
                blobs.append(buf.getvalue())
                pics.append(str(i))
                owner.append(i)
                label.append(f"{side} {int(100 * f)}%")
    return blobs, pics, owner, label


def summarize(
    name: str,
    pairs: set[tuple[int, int]],
    pics: list[str],
    owner: list[int],
    label: list[str],
    tail: str = "",
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
        f"{100 * false / diff_total:.3f}% |{tail}"
    )


def whole_pairs(blobs: list[bytes], method: str, mode: str, k: int) -> set[tuple[int, int]]:
    t = mmdedup.image_hash(blobs, method=method, mode=mode)  # type: ignore[arg-type]
    h = np.asarray(t["hash"].to_numpy(), dtype=np.uint64)
    d: npt.NDArray[np.uint8] = np.bitwise_count(h[:, None] ^ h[None, :])
    a, b = np.nonzero(np.triu(d <= k, 1))
    return set(zip(a.tolist(), b.tolist(), strict=True))


CLI_RUNS = {
    "without --crops": [],
    "--crops": ["--crops"],
    "--crops --min-regions 1": ["--crops", "--min-regions", "1"],
    "--crops --region-method ahash": ["--crops", "--region-method", "ahash"],
}


def cli_run(shard: Path, out: Path, k: int, mode: str, extra: list[str]) -> tuple[set, float]:
    """Pairs of images in one cluster of ``mmdedup images``, and the run's seconds."""
    cmd = [sys.executable, "-m", "mmdedup", "images", str(shard), "-o", str(out), "--overwrite"]
    cmd += ["-q", "--column", "bytes", "-k", str(k), "--mode", mode, *extra]
    subprocess.run(cmd, check=True)
    t = pq.read_table(out / "clusters.parquet", columns=["row", "cluster"])
    rows, labels = t["row"].to_numpy(), t["cluster"].fill_null(-1).to_numpy()
    members: dict[int, list[int]] = {}
    for r, c in zip(rows.tolist(), labels.tolist(), strict=True):
        if c >= 0:
            members.setdefault(c, []).append(r)
    pairs = {(a, b) for m in members.values() for a in m for b in m if a < b}
    return pairs, float(json.loads((out / "summary.json").read_text())["seconds"]["total"])


def cli(blobs: list[bytes], pics: list[str], owner: list[int], label: list[str], args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        shard = Path(tmp) / "crops.parquet"
        pq.write_table(pa.table({"bytes": pa.array(blobs, pa.binary())}), shard)
        for k in (8, 10):
            times: dict[str, list[float]] = {name: [] for name in CLI_RUNS}
            pairs: dict[str, set] = {}
            for _ in range(args.rounds):
                for name, extra in CLI_RUNS.items():
                    pairs[name], dt = cli_run(shard, Path(tmp) / "out", k, args.mode, extra)
                    times[name].append(dt)
            base = float(np.median(times["without --crops"]))
            print(f"\n-k {k}: median of {args.rounds} runs; time ratio against without --crops")
            print("| run | crops matched, per cut | all | false pairs | median s | ratio |")
            print("| --- | --- | ---: | ---: | ---: | ---: |")
            for name in CLI_RUNS:
                med = float(np.median(times[name]))
                summarize(
                    f"`{name}`",
                    pairs[name],
                    pics,
                    owner,
                    label,
                    f" {med:.2f} | {med / base:.2f}× |",
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--root", type=Path, default=Path.home() / ".cache/mmdedup-corpora/images", help="corpus"
    )
    ap.add_argument("-k", type=int, default=8, help="Hamming distance (default 8)")
    ap.add_argument("--mode", default="canonical", choices=("canonical", "compatible"))
    ap.add_argument("--region-method", default="dhash")
    ap.add_argument("--cli", action="store_true", help="through mmdedup images (--crops)")
    ap.add_argument("--rounds", type=int, default=3, help="with --cli: runs of each")
    ap.add_argument(
        "--synthetic", action="store_true", help="60 busy generated pictures instead of --root"
    )
    args = ap.parse_args()

    blobs, pics, owner, label = synthetic() if args.synthetic else corpus(args.root)
    n_orig = sum(o == i for i, o in enumerate(owner))
    print(
        f"{n_orig} originals ({len(set(pics))} pictures), {len(blobs) - n_orig} crops; "
        f"mode {args.mode}, k = {args.k}\n"
    )
    if args.cli:
        cli(blobs, pics, owner, label, args)
        return
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
    # The edges of `mmdedup images --crops` (before connected components): whole-image pHash
    # pairs, and region pairs with its segmentation.
    whole = whole_pairs(blobs, "phash", args.mode, args.k)
    for method, m in (("phash", 2), ("phash", 1), ("ahash", 2)):
        rc = mmdedup.region_hashes(
            blobs, method=method, mode=args.mode, min_segment_size=300, max_regions=32
        )
        t = mmdedup.region_pairs(rc, max_distance=args.k, min_matches=m)
        pairs = set(zip(t["a"].to_pylist(), t["b"].to_pylist(), strict=True)) | whole
        summarize(f"--crops edges: regions ({method}), ≥ {m} matched", pairs, pics, owner, label)
    print(
        f"\nregion hashing: {dt:.1f} s for {len(blobs)} images; regions per image: median "
        f"{int(np.median(counts))}, max {int(counts.max())}"
    )


if __name__ == "__main__":
    main()
