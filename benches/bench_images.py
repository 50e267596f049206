"""Images per second: mmdedup vs ImageHash, imagededup and pdqhash, side by side in one process.

Two sets of files:

* ``jpeg-1080p``: JPEG photos made from the corpus wallpapers (``files/desktop-base``: the GRUB
  backgrounds and login previews, not the logos), each resized to 1920×1080 (LANCZOS) in four
  variants (as is, mirrored, a 90 % centre crop scaled back, 15 % darker) and saved by Pillow at
  quality 90 into a temporary directory: the corpus itself holds only five small JPEGs;
* ``corpus-png``: the corpus files themselves (icons of 8–256 px, mostly RGBA PNG).

Per set and method (pHash and dHash at hash_size 8, PDQ): mmdedup in canonical and compatible
mode at 1 and 2 threads (``mmdedup.set_num_threads``) on the list of paths (files read in Rust);
ImageHash as users call it (``imagehash.phash(Image.open(path))`` in a loop); imagededup's
``PHash().encode_image(image_file=path)`` loop if installed; for PDQ ``pdqhash.compute`` on
``np.asarray(img.convert("RGB"))`` after ``Image.open`` + ``thumbnail((512, 512))`` (the
reference's pre-shrink). Also a decode-only baseline (Pillow ``Image.open(p).load()``) and
mmdedup's marginal cost per extra hash from one decode (``image_hashes`` with three methods).

Medians of ``--repeats`` rounds; within a round every tool runs once, in turn, after one untimed
warm-up (files in the page cache). "per core" divides by the threads used; the references use
one core.

    .venv/bin/python benches/bench_images.py [--quick] [--repeats R] [--sets jpeg-1080p,corpus-png]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import mmdedup
import numpy as np
import pyarrow.parquet as pq

warnings.filterwarnings("ignore")  # Pillow's palette-transparency warning on the icons

Runner = Callable[[], object]


def make_jpegs(
    root: Path, out: Path, variants: int, grain: float = 0.0, progressive: bool = False
) -> list[str]:
    """The wallpapers as 1920×1080 JPEG photos, quality 90; ``grain``: Gaussian noise of this
    standard deviation added first (film grain, sensor noise: the entropy of real photos);
    ``progressive``: stored progressive (libjpeg's default scan script)."""
    from PIL import Image, ImageEnhance, ImageOps

    rng = np.random.default_rng(0)

    sources = sorted(
        p
        for p in (root / "files" / "desktop-base").rglob("*")
        if p.suffix in {".png", ".jpg"} and "debian-logos" not in p.parts
    )
    paths: list[str] = []
    for i, src in enumerate(sources):
        with Image.open(src) as img:
            base = img.convert("RGB").resize((1920, 1080), Image.Resampling.LANCZOS)
        w, h = base.size
        crop = base.crop((w // 20, h // 20, w - w // 20, h - h // 20)).resize(
            (w, h), Image.Resampling.LANCZOS
        )
        made = [
            base,
            ImageOps.mirror(base),
            crop,
            ImageEnhance.Brightness(base).enhance(0.85),
        ]
        for j, pic in enumerate(made[:variants]):
            path = out / f"w{i:02d}_{j}.jpg"
            if grain:
                noisy = np.asarray(pic, dtype=np.float32) + rng.normal(0, grain, (h, w, 3))
                pic = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
            pic.save(path, "JPEG", quality=90, progressive=progressive)
            paths.append(str(path))
    return paths


def imagehash_loop(paths: list[str], method: str) -> Runner:
    import imagehash
    from PIL import Image

    fn = imagehash.phash if method == "phash" else imagehash.dhash

    def run() -> object:
        return [fn(Image.open(p)) for p in paths]

    return run


def imagededup_loop(paths: list[str], method: str) -> Runner | None:
    try:
        import logging

        logging.disable(logging.WARNING)
        from imagededup.methods import DHash, PHash  # type: ignore[import-untyped]
    except Exception:
        return None
    hasher = PHash(verbose=False) if method == "phash" else DHash(verbose=False)

    def run() -> object:
        return [hasher.encode_image(image_file=p) for p in paths]

    return run


def pdqhash_loop(paths: list[str]) -> Runner:
    import pdqhash  # type: ignore[import-untyped]
    from PIL import Image

    def run() -> object:
        out = []
        for p in paths:
            with Image.open(p) as img:
                img.thumbnail((512, 512))
                out.append(pdqhash.compute(np.asarray(img.convert("RGB"))))
        return out

    return run


def pil_decode_loop(paths: list[str]) -> Runner:
    from PIL import Image

    def run() -> object:
        for p in paths:
            with Image.open(p) as img:
                img.load()
        return None

    return run


def mmdedup_run(paths: list[str], methods: list[str], mode: str, threads: int) -> Runner:
    def run() -> object:
        mmdedup.set_num_threads(threads)
        return mmdedup.image_hashes(paths, methods=methods, mode=mode)  # type: ignore[arg-type]

    return run


def bench_set(name: str, paths: list[str], repeats: int) -> list[tuple[str, ...]]:
    n = len(paths)
    # (label, method, threads, runner)
    runs: list[tuple[str, str, int, Runner]] = []
    for method in ("phash", "dhash", "pdq"):
        for mode in ("canonical", "compatible"):
            for threads in (1, 2):
                runs.append(
                    (
                        f"mmdedup {mode}",
                        method,
                        threads,
                        mmdedup_run(paths, [method], mode, threads),
                    )
                )
        if method == "pdq":
            runs.append(("pdqhash (PIL decode + thumbnail)", method, 1, pdqhash_loop(paths)))
        else:
            runs.append(("ImageHash", method, 1, imagehash_loop(paths, method)))
            dedup = imagededup_loop(paths, method)
            if dedup is not None:
                runs.append(("imagededup", method, 1, dedup))
    for mode in ("canonical", "compatible"):
        for threads in (1, 2):
            runs.append(
                (
                    f"mmdedup {mode}",
                    "phash+dhash+pdq",
                    threads,
                    mmdedup_run(paths, ["phash", "dhash", "pdq"], mode, threads),
                )
            )
    runs.append(("Pillow decode only (.load())", "-", 1, pil_decode_loop(paths)))

    times: dict[int, list[float]] = {i: [] for i in range(len(runs))}
    for _label, _method, _threads, fn in runs:
        fn()  # warm-up: page cache, imports, thread pools
    for _ in range(repeats):
        for i, (_label, _method, _threads, fn) in enumerate(runs):
            t0 = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t0)
    mmdedup.set_num_threads(os.cpu_count() or 1)

    med = {i: statistics.median(t) for i, t in times.items()}
    ips = {i: n / med[i] for i in med}
    ref_ips: dict[str, float] = {}
    one_thread: dict[tuple[str, str], float] = {}
    for i, (label, method, threads, _fn) in enumerate(runs):
        if label.startswith(("ImageHash", "pdqhash")):
            ref_ips[method] = ips[i]
        if threads == 1:
            one_thread[(label, method)] = ips[i]
    rows: list[tuple[str, ...]] = []
    for i, (label, method, threads, _fn) in enumerate(runs):
        ref = ref_ips.get(method)
        per_core = f"{ips[i] / threads / ref:.1f}×" if ref else ""
        scale = ""
        if threads > 1 and (label, method) in one_thread:
            scale = f"{ips[i] / one_thread[(label, method)]:.2f}×"
        spread = f"{min(times[i]):.3f}–{max(times[i]):.3f}"
        rows.append((name, method, label, str(threads), f"{ips[i]:,.0f}", per_core, scale, spread))
    return rows


def breakdown(paths: list[str], repeats: int) -> list[tuple[str, ...]]:
    """Where the time goes on 1920×1080: the same pictures as JPEG, PNG and BMP bytes (Arrow
    binary input, no file reads), mmdedup at 1 thread against Pillow's decode alone. BMP decoding
    is a copy, so mmdedup's BMP time is its pixel pipeline (colour conversion, reduction, hash)."""
    import io

    import pyarrow as pa
    from PIL import Image

    pictures = []
    for p in paths:
        with Image.open(p) as img:
            pictures.append(img.convert("RGB"))
    mmdedup.set_num_threads(1)
    rows: list[tuple[str, ...]] = []
    for fmt in ("JPEG", "PNG", "BMP"):
        blobs = []
        for pic in pictures:
            buf = io.BytesIO()
            pic.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
            blobs.append(buf.getvalue())
        arr = pa.array(blobs, pa.binary())

        def pil_decode(blobs: list[bytes] = blobs) -> object:
            for b in blobs:
                with Image.open(io.BytesIO(b)) as img:
                    img.load()
            return None

        runs: list[tuple[str, Runner]] = [("Pillow decode only", pil_decode)]
        for mode in ("canonical", "compatible"):
            for method in ("dhash", "phash", "pdq"):

                def run(arr: pa.Array = arr, method: str = method, mode: str = mode) -> object:
                    return mmdedup.image_hashes(arr, methods=[method], mode=mode)  # type: ignore[arg-type]

                runs.append((f"mmdedup {mode} {method}", run))
        for label, fn in runs:
            fn()
            ts = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t0)
            ms = statistics.median(ts) / len(blobs) * 1000
            rows.append((fmt, label, f"{ms:.1f}"))
    mmdedup.set_num_threads(os.cpu_count() or 1)
    return rows


#: Per method: the reference users run, and the scale canonical mode decodes 1080p JPEGs at
#: (pHash and aHash 1/8; dHash keeps a 256-pixel shorter side, 1/4; PDQ a 512-pixel longer side,
#: 1/2).
FLOOR_SCALES = {"phash": 8, "dhash": 4, "pdq": 2}


def floor(paths: list[str], repeats: int, methods: list[str]) -> list[tuple[str, ...]]:
    """How fast any JPEG decoder can be: per image, 1 thread, medians of ``repeats`` rounds run
    round robin. Per method: (a) the reference as users call it (ImageHash ``phash`` or
    ``dhash`` after ``Image.open``; ``pdqhash.compute`` after ``Image.open`` + ``thumbnail``); (b)
    Pillow ``Image.open`` + ``draft("L", (w/s, h/s))`` + ``load()``: libjpeg-turbo's DCT-scaled
    decode at the scale 1/s canonical mode decodes at (at 1/8 DC coefficients only), to gray (no
    colour conversion), its fastest, with no hashing at all; (c) mmdedup canonical on the same
    files. Every decoder has to entropy-decode the whole file, so (b) is a floor: the method can
    be at most (a)/(b) times faster than its reference."""
    from PIL import Image

    def draft_only(s: int) -> Runner:
        def run() -> object:
            for p in paths:
                with Image.open(p) as img:
                    img.draft("L", (img.width // s, img.height // s))
                    img.load()
            return None

        return run

    def drafted(s: int) -> str:
        with Image.open(paths[0]) as img:
            img.draft("L", (img.width // s, img.height // s))
            return f"{img.size[0]}×{img.size[1]} {img.mode}"

    from mmdedup import _core

    blobs = [Path(p).read_bytes() for p in paths]

    def reduced(side: int, long: int, ours: bool) -> Runner:
        # The reduced decode canonical mode runs, by either decoder (a test hook of the module).
        def run() -> object:
            for b in blobs:
                _core._jpeg_reduced(b, side, long, ours)
            return None

        return run

    # (reference, its label) and the minimum sides canonical mode asks the decoder for.
    refs: dict[str, tuple[str, Runner]] = {
        "phash": ("ImageHash phash (Image.open + imagehash.phash)", imagehash_loop(paths, "phash")),
        "dhash": ("ImageHash dhash (Image.open + imagehash.dhash)", imagehash_loop(paths, "dhash")),
        "pdq": ("pdqhash (Image.open + thumbnail + pdqhash.compute)", pdqhash_loop(paths)),
    }
    sides = {"phash": (128, 0), "dhash": (256, 0), "pdq": (0, 512)}
    # Rows: (method, label, runner); the first row of each method is its reference.
    runs: list[tuple[str, str, Runner]] = [
        ("", "Pillow open + load (full decode)", pil_decode_loop(paths))
    ]
    for m in methods:
        s = FLOOR_SCALES[m]
        runs += [
            (m, f"(a) {refs[m][0]}", refs[m][1]),
            (
                m,
                f"(b) Pillow open + draft('L', 1/{s}) + load, no hash ({drafted(s)})",
                draft_only(s),
            ),
            (m, f"(c) mmdedup canonical {m}", mmdedup_run(paths, [m], "canonical", 1)),
        ]
        if hasattr(_core, "_jpeg_reduced"):
            runs += [
                (m, f"    mmdedup 1/{s} decode only, own decoder", reduced(*sides[m], True)),
                (m, f"    mmdedup 1/{s} decode only, jpeg-decoder", reduced(*sides[m], False)),
            ]
    times: dict[int, list[float]] = {i: [] for i in range(len(runs))}
    for _m, _label, fn in runs:
        fn()
    for _ in range(repeats):
        for i, (_m, _label, fn) in enumerate(runs):
            t0 = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t0)
    mmdedup.set_num_threads(os.cpu_count() or 1)
    ms = {i: statistics.median(t) / len(paths) * 1000 for i, t in times.items()}
    rows: list[tuple[str, ...]] = [("", runs[0][1], f"{ms[0]:.2f}", "")]
    ref = 0
    for i, (m, label, _fn) in enumerate(runs[1:], start=1):
        if label.startswith("(a)"):
            ref = i
        rows.append((m, label, f"{ms[i]:.2f}", f"{ms[ref] / ms[i]:.1f}×"))
        if label.startswith("(c)"):
            rows.append((m, "    20× the reference would need", f"{ms[ref] / 20:.2f}", "20.0×"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--root", type=Path, default=Path.home() / ".cache/mmdedup-corpora/images", help="corpus"
    )
    ap.add_argument("--quick", action="store_true", help="fewer files and repeats")
    ap.add_argument("--repeats", type=int, default=0, help="rounds (default 5, quick 3)")
    ap.add_argument("--sets", default="jpeg-1080p,corpus-png")
    ap.add_argument(
        "--breakdown-only",
        action="store_true",
        help="only the JPEG/PNG/BMP time split (e.g. to compare MALLOC_* settings)",
    )
    ap.add_argument(
        "--grain",
        type=float,
        default=0.0,
        help="jpeg-1080p: add Gaussian noise of this standard deviation (6 gives photo-sized "
        "files, ~0.4 MB)",
    )
    ap.add_argument("--progressive", action="store_true", help="jpeg-1080p: progressive JPEGs")
    ap.add_argument(
        "--floor",
        action="store_true",
        help="only the JPEG floor: each reference vs Pillow's draft decode at the scale mmdedup "
        "decodes at vs mmdedup, 1 thread",
    )
    ap.add_argument(
        "--floor-methods", default="phash,dhash,pdq", help="--floor: methods, comma-separated"
    )
    args = ap.parse_args()
    split: list[tuple[str, ...]] = []
    lowest: list[tuple[str, ...]] = []
    repeats = args.repeats or (3 if args.quick else 5)

    import imagehash
    import PIL

    try:
        import imagededup  # type: ignore[import-untyped]

        dedup_version = imagededup.__version__
    except Exception:
        dedup_version = "not installed"
    print(
        f"mmdedup {mmdedup.__version__}, ImageHash {imagehash.__version__}, Pillow "
        f"{PIL.__version__}, imagededup {dedup_version}, {os.cpu_count()} CPUs, "
        f"median of {repeats} rounds"
    )
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(prefix="mmdedup-bench-jpeg-") as tmp:
        for name in args.sets.split(","):
            if name == "jpeg-1080p":
                paths = make_jpegs(
                    args.root, Path(tmp), 1 if args.quick else 4, args.grain, args.progressive
                )
                mb = sum(os.path.getsize(p) for p in paths) / len(paths) / 1e6
                print(
                    f"jpeg-1080p: {len(paths)} JPEG files, 1920×1080, q90, grain {args.grain}, "
                    f"progressive {args.progressive}, "
                    f"{mb:.2f} MB each"
                )
            elif name == "corpus-png":
                table = pq.read_table(args.root / "images.parquet", columns=["path"])
                paths = [str(args.root / "files" / p) for p in table["path"].to_pylist()]
                if args.quick:
                    paths = random.Random(0).sample(paths, 1000)
                print(f"corpus-png: {len(paths)} corpus files (12,236 PNG, 5 JPEG in all)")
            else:
                raise SystemExit(f"unknown set {name}")
            if args.floor:
                if name == "jpeg-1080p":
                    lowest = floor(paths, repeats, args.floor_methods.split(","))
                continue
            if not args.breakdown_only:
                rows += bench_set(name, paths, repeats)
            if name == "jpeg-1080p":
                split = breakdown(paths[:: 1 if args.quick else 4], repeats)

    head = (
        "set",
        "method",
        "tool",
        "threads",
        "images/s",
        "per core vs ref",
        "1→2 threads",
        "s/round min–max",
    )
    if rows:
        print("\n| " + " | ".join(head) + " |")
        print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
        for r in rows:
            print("| " + " | ".join(r) + " |")
    if lowest:
        print("\nThe JPEG floor, 1920×1080 q90 files, 1 thread (ms per image; × = reference / row)")
        print("| method | what | ms/image | vs reference |")
        print("| --- | --- | ---: | ---: |")
        for r in lowest:
            print("| " + " | ".join(r) + " |")
    if split:
        print("\nWhere the time goes, 1920×1080, bytes in memory, 1 thread (ms per image)")
        print("| format | what | ms/image |")
        print("| --- | --- | ---: |")
        for r in split:
            print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
