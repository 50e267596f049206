"""Signatures of interleaved documents (text shingles plus image tokens), and the decision
which documents stay."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ... import _core
from ...dedup import choose_keep, compute_signatures, parse_keep
from ...storage import atomic_write
from ..lsh_partitions import write_partitions
from ..shingle_sets import set_writer, signatures_and_sets, union_sets, wants_sets
from ..workdir import WorkDir
from .images import surviving_images
from .plan import Manifest, manifest_config, row_counts


def stage_signatures(work: WorkDir, m: Manifest, i: int) -> None:
    """Shard ``i``: image-set keys and the MinHash of text shingles plus image tokens."""
    unit = f"signatures-{i:06d}"
    if work.done(unit):
        return
    cfg, tag = manifest_config(m), f"{i:06d}"
    counts = row_counts(work, m)
    off, n = sum(counts[:i]), counts[i]
    z, _, alive = surviving_images(work, m, i)
    use = alive & z["ok"]
    sets: list[list[int]] = [[] for _ in range(n)]
    for d, k in zip(z["doc"][use], z["key"][use], strict=True):
        sets[int(d)].append(int(k))
    setkey = np.zeros(n, dtype=np.uint64)
    for d, ks in enumerate(sets):
        if ks:
            blob = np.unique(np.array(ks, dtype=np.uint64)).tobytes()
            setkey[d] = int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "little") | 1
    work.save(f"imagesets/{tag}.npy", setkey)
    if cfg.near_duplicates:
        texts = pq.read_table(work.local(f"texts/{tag}.parquet")).column("text")
        shingles = None
        if wants_sets(cfg.text):
            sig, shingles = signatures_and_sets(texts, cfg.text)
        else:
            sig = compute_signatures(texts, cfg.text)
        data, empty = sig.data, sig.empty.copy()
        if cfg.image_weight:
            tokens = pa.array(
                [
                    [
                        f"\x00image:{k:016x}:{w}"
                        for k in sorted(set(ks))
                        for w in range(cfg.image_weight)
                    ]
                    for ks in sets
                ],
                pa.list_(pa.string()),
            )
            isig, icount = _core.minhash_sets(
                tokens, num_perm=cfg.text.num_perm, seed=cfg.text.seed
            )
            data = np.minimum(data, isig)  # MinHash of a union: the slot-wise minimum
            empty &= icount == 0
            if shingles is not None:  # the set of a union: the row-wise union
                shingles = union_sets(shingles, _core.token_sets(tokens))
        if shingles is not None:
            with set_writer(work, tag, n) as write:
                write(shingles)
        if work.remote is None:
            sigfile = np.lib.format.open_memmap(work.root / "signatures.npy", mode="r+")
            sigfile[off : off + n] = data
            sigfile.flush()
            del sigfile
        else:  # a file of its own (see write_signature_parts)
            work.save(f"signatures/{tag}.npy", np.ascontiguousarray(data, dtype=np.uint32))
        work.save(f"empty/{tag}.npy", empty)
        write_partitions(work, m.partitions, cfg.text, data, empty, off, tag)
    work.mark(unit)


def stage_documents(work: WorkDir, m: Manifest) -> None:
    """Decides which documents stay: identical image sets first, then near-duplicates."""
    if work.done("documents"):
        return
    cfg = manifest_config(m)
    counts = row_counts(work, m)
    n = sum(counts)
    tags = [f"{i:06d}" for i in range(len(m.shards))]
    rule = parse_keep(cfg.keep)
    key = (
        np.concatenate([np.load(work.local(f"meta/{t}.npz"))["key"] for t in tags])
        if tags
        else np.zeros(0)
    )
    status = np.zeros(n, dtype=np.uint8)
    cluster = np.full(n, -1, dtype=np.int64)
    removed = np.zeros(n, dtype=np.bool_)
    if cfg.identical_images and n:
        setkey = np.concatenate([work.load(f"imagesets/{t}.npy") for t in tags])
        has = np.flatnonzero(setkey != 0)
        _, inv, sizes = np.unique(setkey[has], return_inverse=True, return_counts=True)
        grouped = has[sizes[inv] > 1]
        if len(grouped):
            first = np.full(len(sizes), n, dtype=np.int64)
            np.minimum.at(first, inv, has)
            labels = np.full(n, -1, dtype=np.int64)
            labels[has] = np.where(sizes[inv] > 1, first[inv], -1)
            keep = choose_keep(labels, rule, key if rule[0] != "first" else None)
            lost = (labels >= 0) & ~keep
            removed |= lost
            status[lost] = 3
            cluster[labels >= 0] = labels[labels >= 0]
            status[(labels >= 0) & keep] = 1
    pairs = {"candidate_pairs": 0, "accepted_pairs": 0}
    if cfg.near_duplicates and n:
        empty = np.concatenate([work.load(f"empty/{t}.npy") for t in tags])
        files = [work.load(f"edges/{p:05d}.npy") for p in range(m.partitions)]
        edges = np.concatenate(files) if files else np.zeros((0, 2), np.uint32)
        edges = np.unique(edges, axis=0) if len(edges) else edges.reshape(0, 2)
        pairs["candidate_pairs"] = sum(
            json.loads(work.local(f"edges/{p:05d}.json").read_text())["candidates"]
            for p in range(m.partitions)
        )
        live = ~(removed[edges[:, 0]] | removed[edges[:, 1]]) if len(edges) else np.zeros(0, bool)
        edges = np.ascontiguousarray(edges[live], dtype=np.uint32)
        pairs["accepted_pairs"] = len(edges)
        labels = _core.components(n, edges)
        keep = choose_keep(labels, rule, key if rule[0] != "first" else None)
        lost = (labels >= 0) & ~keep
        removed |= lost
        status[lost] = 2
        status[(labels >= 0) & keep] = 1
        cluster[labels >= 0] = labels[labels >= 0]
        status[empty & ~removed & (status == 0)] = 4
    work.save("removed.npy", removed)
    work.save("status.npy", status)
    work.save("cluster.npy", cluster)
    with atomic_write(work.path("pairs.json")) as f:
        f.write(json.dumps(pairs).encode())
    work.mark("documents")
