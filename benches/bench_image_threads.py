"""mmdedup's image hashing at 1 and 2 threads, alternating, on the same 1080p JPEG files.

The thread-scaling rows of ``bench_images.py`` run inside rounds that also time ImageHash,
imagededup and pdqhash; here only mmdedup runs, ``image_hashes(paths, methods=[m])`` (files read
by mmdedup) with ``set_num_threads(1)`` and ``(2)`` in turn, ``--repeats`` times. Two ratios:
the medians' (median 1-thread time over median 2-thread time), and the median of the rounds' own
ratios (each round's 1-thread time over the 2-thread time right after it), which a change of load
on a shared host between rounds moves less. The files are ``bench_images.make_jpegs``' (the corpus wallpapers as 1920×1080
JPEGs, quality 90, four variants each).

    .venv/bin/python benches/bench_image_threads.py [--repeats 9] [--grain 0] [--progressive]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import mmdedup

sys.path.insert(0, str(Path(__file__).parent))
import bench_images


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument(
        "--root", type=Path, default=Path.home() / ".cache/mmdedup-corpora/images", help="corpus"
    )
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--grain", type=float, default=0.0)
    ap.add_argument("--progressive", action="store_true")
    ap.add_argument("--methods", default="phash,dhash,pdq")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = bench_images.make_jpegs(
            args.root, Path(tmp), 4, grain=args.grain, progressive=args.progressive
        )
        print(f"{len(paths)} JPEG files, 1920x1080, medians of {args.repeats} rounds")
        print(
            "| method | 1 thread, ms/image | 2 threads, ms/image | 1 -> 2 threads, medians | "
            "median of round ratios (min-max) |"
        )
        print("| --- | ---: | ---: | ---: | ---: |")
        for m in args.methods.split(","):
            times: dict[int, list[float]] = {1: [], 2: []}
            for _ in range(args.repeats):
                for threads in (1, 2):
                    mmdedup.set_num_threads(threads)
                    start = time.perf_counter()
                    mmdedup.image_hashes(paths, methods=[m])
                    times[threads].append(time.perf_counter() - start)
            one, two = (statistics.median(times[t]) / len(paths) * 1000 for t in (1, 2))
            ratios = [a / b for a, b in zip(times[1], times[2], strict=True)]
            print(
                f"| {m} | {one:.2f} | {two:.2f} | {one / two:.2f}x | "
                f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) |"
            )


if __name__ == "__main__":
    main()
