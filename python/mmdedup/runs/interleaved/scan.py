"""Stage 1 of an interleaved run: read every shard once, and keep per document what the later
stages need."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from ...dedup import DedupConfig, parse_keep
from ...errors import InputError, ParameterError
from ...formats import read_documents
from ...io import write_table
from ...storage import atomic_write
from ..workdir import WorkDir
from .fields import as_number, field_values, urls_of
from .images import image_keys, image_source
from .paragraphs import PARA_ROW, domain_of, hash64, strip_markdown, text_view
from .plan import Manifest, manifest_config, manifest_shard, partition_rows


def stage_scan(work: WorkDir, m: Manifest, i: int) -> None:
    """Reads shard ``i``: its documents in canonical form, paragraph and image keys."""
    unit = f"scan-{i:06d}"
    if work.done(unit):
        return
    cfg, shard, tag = manifest_config(m), manifest_shard(m, i), f"{i:06d}"
    docs = read_documents(shard, format=cfg.format, on_error="record")
    if docs.errors and m.on_error == "raise":
        first = docs.errors[0]
        raise InputError(
            f"{first.message} (use --on-error record to record such rows and go on)",
            path=first.path,
            row=first.row,
        )
    table = docs.table
    write_table(table, work.path(f"docs/{tag}.parquet"))
    n = table.num_rows
    src_rows = np.array(
        [int(d.rsplit(":", 1)[1]) for d in table.column("doc_id").to_pylist()], dtype=np.int64
    )
    markdown = cfg.markdown == "strip" or (
        cfg.markdown == "auto" and docs.format in ("pin", "wanjuan")
    )
    segments = table.column("segments").to_pylist()
    layout_md = docs.format in ("pin", "wanjuan")
    views = [text_view(segs or [], layout_md) for segs in segments]
    # Paragraphs: one row per paragraph, numbered within its document.
    pdoc, pseg, ppar, pieces = [], [], [], []
    for d, v in enumerate(views):
        for j, (piece, members) in enumerate(v.paragraphs):
            pdoc.append(d)
            pseg.append(members[0][0])
            ppar.append(j)
            pieces.append(piece)
    plain = strip_markdown(pieces) if markdown else pieces
    hashes, empty = (
        hash64(plain, cfg.text) if plain else (np.zeros(0, np.uint64), np.zeros(0, np.bool_))
    )
    pdoc_a = np.asarray(pdoc, dtype=np.int64)
    # Document text for MinHash: its paragraphs, as hashed, one after another.
    texts: list[list[str]] = [[] for _ in range(n)]
    for d, t in zip(pdoc, plain, strict=True):
        texts[d].append(t)
    write_table(
        pa.table({"text": pa.array(["\n\n".join(t) for t in texts], pa.string())}),
        work.path(f"texts/{tag}.parquet"),
    )
    # Images, in reading order: image segments and references left in markdown text.
    isegs = [(d, k, r, ref) for d, v in enumerate(views) for k, r, ref, _ in v.images]
    source = image_source(m.images, m.image_root)
    base = shard.path.local().parent if shard.path.is_local else shard.path.parent()
    ikeys, ierrs = image_keys([(d, k, ref) for d, k, _, ref in isegs], cfg, source, base)
    idoc = np.array([d for d, _, _, _ in isegs], dtype=np.int64)
    iseg = np.array([k for _, k, _, _ in isegs], dtype=np.uint32)
    iref = np.array([r for _, _, r, _ in isegs], dtype=np.uint32)
    ok = np.array([e is None for e in ierrs], dtype=np.bool_)
    repeated = np.zeros(len(isegs), dtype=np.bool_)
    if cfg.repeated_images and len(isegs):
        seen: set[tuple[int, int]] = set()
        for j in range(len(isegs)):
            if not ok[j]:
                continue
            pair = (int(idoc[j]), int(ikeys[j]))
            repeated[j] = pair in seen
            seen.add(pair)
    np.savez(
        work.path(f"images/{tag}.npz"),
        doc=idoc,
        seg=iseg,
        ref=iref,
        key=ikeys,
        ok=ok,
        repeated=repeated,
    )
    problems = [
        {
            "row": int(src_rows[idoc[j]]),
            "doc_id": table.column("doc_id")[int(idoc[j])].as_py(),
            "segment": int(iseg[j]),
            "problem": ierrs[j],
        }
        for j in range(len(isegs))
        if ierrs[j] is not None
    ] + [{"row": p.row, "doc_id": None, "segment": None, "problem": p.message} for p in docs.errors]
    # Keep-rule key and paragraph scope.
    rule = parse_keep(cfg.keep)
    if rule[0] == "longest":
        key = np.array([sum(len(t) for t in ts) for ts in texts], dtype=np.float64)
    elif rule[0] in ("max", "min") and rule[1]:
        try:
            key = np.array([as_number(v) for v in field_values(table, rule[1])], dtype=np.float64)
        except ParameterError as e:
            raise InputError(f"--keep {cfg.keep}: {e}", path=str(shard.path)) from e
    else:
        key = np.zeros(n, dtype=np.float64)
    scope = np.zeros(n, dtype=np.uint64)
    if cfg.paragraphs == "domain" and n:
        scope, _ = hash64([domain_of(u) for u in urls_of(table)], DedupConfig(normalize=False))
    with atomic_write(work.path(f"scan/{tag}.json")) as f:
        f.write(
            json.dumps(
                {
                    "rows": n,
                    "images": len(isegs),
                    "image_errors": int((~ok).sum()),
                    "paragraphs": int((~empty).sum()),
                    "read_errors": len(docs.errors),
                    "repairs": len(docs.repairs),
                    "format": docs.format,
                    "problems": problems,
                    "repair_messages": [str(p) for p in docs.repairs],
                }
            ).encode()
        )
    np.savez(work.path(f"meta/{tag}.npz"), key=key, src_row=src_rows)
    # Paragraph rows, partitioned by hash (global doc ids are fixed later: shard in the top bits).
    live = ~empty
    rows = np.empty(int(live.sum()), dtype=PARA_ROW)
    rows["scope"] = scope[pdoc_a[live]] if len(rows) else 0
    rows["hash"] = hashes[live]
    rows["doc"] = (np.uint64(i) << np.uint64(32)) | pdoc_a[live].astype(np.uint64)
    rows["seg"] = np.asarray(pseg, dtype=np.uint32)[live]
    rows["par"] = np.asarray(ppar, dtype=np.uint32)[live]
    partition_rows("paragraphs", rows["hash"] ^ rows["scope"], rows, m, work, tag)
    work.mark(unit)
