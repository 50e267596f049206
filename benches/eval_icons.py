"""Recall across sizes and false pairs on the icon themes (images with alpha at many sizes).

On every PNG of ``~/.cache/mmdedup-corpora/images/files/icons`` (Tango: 16–32 px; Oxygen:
8–256 px), for each hash kind (64 bits, ``hash_size=8``) and the chosen mode:

1. for each pair of sizes, the share of same-icon pairs (the icon at one size against the same
   icon at the other) within distance ``k`` (default 8, the CLI's ``-k``);
2. the false-pair rate: the share of pairs of *different* icons within ``k``, among icons of
   the same size and among icons of different sizes.

Two sets: ``shipped``, the sizes the themes ship (the small ones are often drawn anew, not
scaled: different layouts, emblems, margins), and ``derived``, each icon's largest PNG (128 or
256 px) scaled by Pillow (LANCZOS, premultiplied alpha) to 32, 48, 64 and 96 px, as a web
corpus holds one icon at several sizes.

Same icon = same theme + same icon name (the file name without ``.png``; the category folder is
not part of the name, as icon lookup ignores it). Different names whose files are byte-identical
at some size draw the same thing (aliases: ``edit-delete`` and ``delete``, or one generic
document icon under hundreds of MIME-type names): pairs of different icons joined that way are
left out of the false pairs (their count is printed). All pairs are compared exactly (numpy XOR
+ popcount in blocks).

    .venv/bin/python benches/eval_icons.py [--root DIR] [--mode canonical] [-k 8]
"""

from __future__ import annotations

import argparse
import hashlib
import re
import time
from pathlib import Path

import mmdedup
import numpy as np
import numpy.typing as npt

METHODS = ("phash", "dhash", "ahash", "whash")
# The sizes the headline covers (the themes ship no 96 px; the derived set has it).
HEADLINE = (32, 48, 64, 96, 128)
DERIVED = (32, 48, 64, 96)


def find_icons(
    root: Path,
) -> tuple[list[str], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Paths, icon id, alias class and size of every icon PNG under ``root``.

    Icon id: one per (theme, name). Alias class: names joined by byte-identical files at some
    size (connected components), so pairs of different icons in one class can be left out.
    """
    paths: list[str] = []
    keys: list[tuple[str, str]] = []
    sizes: list[int] = []
    for p in sorted(root.rglob("*.png")):
        rel = p.relative_to(root).parts
        dims = [d for d in rel if re.fullmatch(r"\d+x\d+", d)]
        if not dims or len(set(dims[0].split("x"))) != 1:
            continue
        paths.append(str(p))
        keys.append((rel[0], p.stem))
        sizes.append(int(dims[0].split("x")[0]))
    ids = {k: i for i, k in enumerate(sorted(set(keys)))}
    gid = np.array([ids[k] for k in keys], dtype=np.int64)
    parent = list(range(len(ids)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    by_digest: dict[bytes, int] = {}
    for path, i in zip(paths, gid.tolist(), strict=True):
        d = hashlib.sha1(Path(path).read_bytes()).digest()
        if d in by_digest:
            a, b = find(by_digest[d]), find(i)
            parent[max(a, b)] = min(a, b)
        else:
            by_digest[d] = i
    alias = np.array([find(i) for i in gid.tolist()], dtype=np.int64)
    return paths, gid, alias, np.array(sizes, dtype=np.int64)


def derive(
    paths: list[str], gid: npt.NDArray[np.int64], size: npt.NDArray[np.int64]
) -> tuple[list[bytes], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each icon's largest PNG (at least 128 px) scaled to the DERIVED sizes, as PNG bytes."""
    import io

    from PIL import Image

    best: dict[int, int] = {}
    for i, (g, s) in enumerate(zip(gid.tolist(), size.tolist(), strict=True)):
        if s >= 128 and (g not in best or s > size[best[g]]):
            best[g] = i
    blobs, gids, sizes = [], [], []
    for g, i in sorted(best.items()):
        with Image.open(paths[i]) as im:
            rgba = im.convert("RGBA")
        for s in DERIVED:
            buf = io.BytesIO()
            rgba.resize((s, s), Image.Resampling.LANCZOS).save(buf, "PNG")
            blobs.append(buf.getvalue())
            gids.append(g)
            sizes.append(s)
    return blobs, np.array(gids, dtype=np.int64), np.array(sizes, dtype=np.int64)


def hashes(
    images: list[str] | list[bytes], method: str, mode: str
) -> tuple[npt.NDArray[np.uint64], float]:
    t0 = time.perf_counter()
    t = mmdedup.image_hash(images, method=method, mode=mode)  # type: ignore[arg-type]
    dt = time.perf_counter() - t0
    if t["hash"].null_count:
        raise SystemExit(f"{t['hash'].null_count} icons failed to decode")
    return np.asarray(t["hash"].to_numpy(), dtype=np.uint64), dt


def pair_counts(
    h: npt.NDArray[np.uint64],
    gid: npt.NDArray[np.int64],
    alias: npt.NDArray[np.int64],
    size: npt.NDArray[np.int64],
    k: int,
    block: int = 1024,
) -> tuple[dict[tuple[int, int], tuple[int, int]], dict[str, tuple[int, int]]]:
    """Same-icon pairs per size pair (within k, total), and different-icon pairs (within k,
    total) of the same size and of different sizes, aliases left out."""
    n = len(h)
    svals = np.unique(size)
    sidx = np.searchsorted(svals, size)
    ns = len(svals)
    same_near = np.zeros((ns, ns), dtype=np.int64)
    same_all = np.zeros((ns, ns), dtype=np.int64)
    diff = {"same size": [0, 0], "across sizes": [0, 0]}
    idx = np.arange(n)
    for s in range(0, n, block):
        e = min(n, s + block)
        upper = idx[None, :] > idx[s:e, None]
        near = np.bitwise_count(h[s:e, None] ^ h[None, :]) <= k
        same = gid[s:e, None] == gid[None, :]
        other = ~same & (alias[s:e, None] != alias[None, :])
        eq_size = size[s:e, None] == size[None, :]
        a = np.broadcast_to(sidx[s:e, None], upper.shape)
        b = np.broadcast_to(sidx[None, :], upper.shape)
        pair = np.minimum(a, b) * ns + np.maximum(a, b)
        sel = upper & same & ~eq_size
        same_all += np.bincount(pair[sel], minlength=ns * ns).reshape(ns, ns)
        same_near += np.bincount(pair[sel & near], minlength=ns * ns).reshape(ns, ns)
        for name, where in (("same size", eq_size), ("across sizes", ~eq_size)):
            sel = upper & other & where
            diff[name][0] += int((sel & near).sum())
            diff[name][1] += int(sel.sum())
    per_pair = {
        (int(svals[i]), int(svals[j])): (int(same_near[i, j]), int(same_all[i, j]))
        for i in range(ns)
        for j in range(i + 1, ns)
        if same_all[i, j]
    }
    return per_pair, {k: (v[0], v[1]) for k, v in diff.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--root",
        type=Path,
        default=Path.home() / ".cache/mmdedup-corpora/images/files/icons",
        help="icon themes",
    )
    ap.add_argument("--mode", default="canonical", choices=("canonical", "compatible"))
    ap.add_argument("-k", type=int, default=8, help="Hamming distance (default 8)")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--all-sizes", action="store_true", help="every size pair, not the headline")
    ap.add_argument("--set", default="shipped,derived", help="shipped, derived or both")
    args = ap.parse_args()

    paths, gid, alias, size = find_icons(args.root)
    aliased = sum(len(set(gid[alias == a].tolist())) > 1 for a in np.unique(alias).tolist())
    print(
        f"{len(paths)} files, {len(np.unique(gid))} icons ({aliased} alias classes of several "
        f"names, their cross-name pairs left out of the false pairs), sizes "
        f"{sorted(set(size.tolist()))}; mmdedup {mmdedup.__version__}, mode {args.mode}, "
        f"k = {args.k}\n"
    )
    I64 = npt.NDArray[np.int64]
    sets: dict[str, tuple[list[str] | list[bytes], I64, I64, I64]] = {}
    if "shipped" in args.set:
        sets["shipped"] = (paths, gid, alias, size)
    if "derived" in args.set:
        blobs, dgid, dsize = derive(paths, gid, size)
        sets["derived"] = (blobs, dgid, dgid, dsize)
        print(f"derived: {len(blobs) // len(DERIVED)} icons at {DERIVED} px\n")
    for name, (images, g, al, sz) in sets.items():
        for method in args.methods.split(","):
            report(name, method, images, g, al, sz, args)


def report(
    name: str,
    method: str,
    images: list[str] | list[bytes],
    gid: npt.NDArray[np.int64],
    alias: npt.NDArray[np.int64],
    size: npt.NDArray[np.int64],
    args: argparse.Namespace,
) -> None:
    h, dt = hashes(images, method, args.mode)
    per_pair, diff = pair_counts(h, gid, alias, size, args.k)
    print(f"## {name}: {method} ({dt:.1f} s to hash)")
    print("| sizes | same-icon pairs | within k |")
    print("| --- | ---: | ---: |")
    worst = (2.0, "")
    for (a, b), (near, total) in sorted(per_pair.items()):
        headline = a in HEADLINE and b in HEADLINE
        if not (headline or args.all_sizes):
            continue
        share = near / total
        if headline and share < worst[0]:
            worst = (share, f"{a}↔{b}")
        print(f"| {a}↔{b} | {total} | {share:.3f} |")
    print(f"worst headline pair: {worst[1]} {worst[0]:.3f}")
    for kind, (near, total) in diff.items():
        print(f"false pairs, {kind}: {near} of {total} = {100 * near / total:.3f}%")
    near = sum(v[0] for v in diff.values())
    total = sum(v[1] for v in diff.values())
    print(f"false pairs, all: {100 * near / total:.3f}%\n")


if __name__ == "__main__":
    main()
