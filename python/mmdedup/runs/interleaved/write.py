"""The last stage of an interleaved run: the shards without what was removed, and the per-row
tables."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ...formats import write_documents
from ...io import Shard, write_table
from ...runs.copies import declare_and_copy, relative_images
from ...runs.dirs import Run as OutputRun
from ...storage import Location, atomic_write
from ..workdir import WorkDir
from .images import surviving_images
from .paragraphs import edit_text, text_view
from .plan import DOC_STATUS, Manifest, manifest_config, manifest_shard, row_counts


def stage_write(work: WorkDir, m: Manifest, i: int, outdir: Location) -> None:
    """Writes shard ``i`` without what was removed, and its part of the records; the image
    files that travel with it (PIN's relative paths) are listed for :func:`copy_shard_images`,
    which the driver runs (it declares them as outputs before copying them)."""
    unit = f"write-{i:06d}"
    if work.done(unit):
        return
    cfg, tag, shard = manifest_config(m), f"{i:06d}", manifest_shard(m, i)
    counts = row_counts(work, m)
    off, n = sum(counts[:i]), counts[i]
    scan = json.loads(work.local(f"scan/{tag}.json").read_text())
    table = pq.read_table(work.local(f"docs/{tag}.parquet"))
    meta = np.load(work.local(f"meta/{tag}.npz"))
    src_rows = meta["src_row"]
    status = work.load("status.npy", mmap=True)[off : off + n]
    cluster = work.load("cluster.npy", mmap=True)[off : off + n]
    removed = np.asarray(work.load("removed.npy", mmap=True)[off : off + n])
    z, frequent, _ = surviving_images(work, m, i)
    drop_img: dict[int, list[tuple[int, int, str]]] = {}  # doc -> (segment, reference, reason)
    repeated = (z["ok"] & z["repeated"]).tolist()
    for j in np.flatnonzero((z["ok"] & z["repeated"]) | frequent).tolist():
        why = "repeated_image" if repeated[j] else "frequent_image"
        drop_img.setdefault(int(z["doc"][j]), []).append((int(z["seg"][j]), int(z["ref"][j]), why))
    drop_par: dict[int, dict[int, int]] = {}  # doc -> {paragraph: document of its first copy}
    if cfg.paragraphs != "off":
        for name in work.list(f"dupparas/{tag}", ".npy"):
            r = np.load(work.local(f"dupparas/{tag}/{name}"))
            local = (r["doc"] & np.uint64(0xFFFFFFFF)).tolist()
            for d, par, first in zip(local, r["par"].tolist(), r["first"].tolist(), strict=True):
                drop_par.setdefault(d, {})[par] = first
    ids = table.column("doc_id").to_pylist()
    segments = table.column("segments").to_pylist()
    layout_md = scan["format"] in ("pin", "wanjuan")
    removals: list[dict[str, Any]] = []
    new_segments: list[list[dict[str, Any]]] = []
    n_img, n_par = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for d in range(n):
        segs = segments[d] or []
        if removed[d]:
            reason = DOC_STATUS[status[d]]
            removals.append(
                _removal(shard, src_rows[d], ids[d], "document", None, None, reason, cluster[d])
            )
            new_segments.append(segs)
            continue
        if d not in drop_img and d not in drop_par:
            new_segments.append(segs)
            continue
        view = text_view(segs, layout_md)
        gone_segs: set[int] = set()
        cuts: dict[int, list[tuple[int, int]]] = {}
        spans = {(k, r): span for k, r, _, span in view.images}
        for k, r, why in drop_img.get(d, []):
            removals.append(_removal(shard, src_rows[d], ids[d], "image", k, None, why, None))
            n_img[d] += 1
            span = spans[(k, r)]
            if span is None:
                gone_segs.add(k)
            else:
                cuts.setdefault(k, []).append(span)
        pars: dict[int, set[int]] = {}
        for par, first in sorted(drop_par.get(d, {}).items()):
            members = view.paragraphs[par][1]
            removals.append(
                _removal(
                    shard,
                    src_rows[d],
                    ids[d],
                    "paragraph",
                    members[0][0],
                    par,
                    "duplicate_paragraph",
                    first,
                )
            )
            n_par[d] += 1
            for k, j in members:
                pars.setdefault(k, set()).add(j)
        kept_segs = []
        for k, seg in enumerate(segs):
            if k in gone_segs:
                continue
            if k in pars or k in cuts:
                left = edit_text(seg["text"] or "", pars.get(k, set()), cuts.get(k, []))
                if left is None:
                    continue
                seg = {**seg, "text": left}
            kept_segs.append(seg)
        new_segments.append(kept_segs)
    out_table = table.set_column(
        table.column_names.index("segments"),
        table.schema.field("segments"),
        pa.array(new_segments, table.schema.field("segments").type),
    ).filter(pa.array(~removed))
    target = outdir / shard.name
    with _local_output(target) as path:
        write_documents(out_table, path, format=scan["format"], container=shard.format)
    listed = _copies(out_table, shard, outdir)
    with atomic_write(work.path(f"copies/{tag}.json")) as out_file:
        out_file.write(json.dumps(listed).encode())
    # One row per input row: the documents read, then the rows that could not be read.
    doc_rows = {
        "shard": [shard.name] * n,
        "row": src_rows.tolist(),
        "doc_id": ids,
        "status": [DOC_STATUS[s] for s in status],
        "keep": (~removed).tolist(),
        "cluster": [int(c) if c >= 0 else None for c in cluster],
        "images_removed": n_img.tolist(),
        "paragraphs_removed": n_par.tolist(),
        "error": [None] * n,
    }
    for p in scan["problems"]:
        if p["doc_id"] is None:
            for col, v in (
                ("shard", shard.name),
                ("row", p["row"]),
                ("doc_id", None),
                ("status", "error"),
                ("keep", False),
                ("cluster", None),
                ("images_removed", 0),
                ("paragraphs_removed", 0),
                ("error", p["problem"]),
            ):
                doc_rows[col].append(v)
    write_table(
        pa.table(doc_rows, schema=DOC_SCHEMA), work.path(f"records/documents-{tag}.parquet")
    )
    write_table(
        pa.Table.from_pylist(removals, schema=REMOVAL_SCHEMA),
        work.path(f"records/removals-{tag}.parquet"),
    )
    probs = [{"shard": shard.name, **p} for p in scan["problems"]]
    write_table(
        pa.Table.from_pylist(probs, schema=PROBLEM_SCHEMA),
        work.path(f"records/problems-{tag}.parquet"),
    )
    work.mark(unit)


DOC_SCHEMA = pa.schema(
    [
        ("shard", pa.string()),
        ("row", pa.int64()),
        ("doc_id", pa.string()),
        ("status", pa.string()),
        ("keep", pa.bool_()),
        ("cluster", pa.int64()),
        ("images_removed", pa.int64()),
        ("paragraphs_removed", pa.int64()),
        ("error", pa.string()),
    ]
)


REMOVAL_SCHEMA = pa.schema(
    [
        ("shard", pa.string()),
        ("row", pa.int64()),
        ("doc_id", pa.string()),
        ("what", pa.string()),
        ("segment", pa.int64()),
        ("paragraph", pa.int64()),
        ("reason", pa.string()),
        ("cluster", pa.int64()),
    ]
)


PROBLEM_SCHEMA = pa.schema(
    [
        ("shard", pa.string()),
        ("row", pa.int64()),
        ("doc_id", pa.string()),
        ("segment", pa.int64()),
        ("problem", pa.string()),
    ]
)


def _removal(
    shard: Shard,
    row: Any,
    doc_id: str,
    what: str,
    seg: int | None,
    par: int | None,
    reason: str,
    cluster: Any,
) -> dict[str, Any]:
    c = None if cluster is None or cluster < 0 else int(cluster)
    return {
        "shard": shard.name,
        "row": int(row),
        "doc_id": doc_id,
        "what": what,
        "segment": seg,
        "paragraph": par,
        "reason": reason,
        "cluster": c,
    }


def _copies(table: pa.Table, shard: Shard, outdir: Location) -> list[list[str]]:
    """``[source, destination relative to outdir]`` of each image file that travels with
    ``shard`` (PIN's relative paths, beside a local or a remote shard), written beside it in
    ``outdir``; none when the output lies beside the input itself."""
    sub = PurePosixPath(shard.name).parent
    if shard.path.is_local and outdir.is_local:
        src_dir = shard.path.local().parent
        if src_dir.resolve() == (outdir.local() / sub).resolve():
            return []
    return [
        [src, (sub / rel).as_posix()]
        for rel, src in relative_images(table, shard.path.parent()).items()
    ]


@contextmanager
def _local_output(target: Location) -> Iterator[Path]:
    """The local path to write the output ``target`` to, whole: the file itself for a local
    OUTDIR (written atomically by the caller); for a remote one, a file of the same name in a
    temporary directory, uploaded once written (an object appears only whole)."""
    if target.is_local:
        yield target.local()
        return
    with tempfile.TemporaryDirectory(prefix="mmdedup-out-") as d:
        path = Path(d) / target.name()
        yield path
        target.fs.makedirs(target.parent_path(), exist_ok=True)
        target.fs.put_file(str(path), target.path)


def copy_shard_images(work: WorkDir, m: Manifest, outdir: Location, outputs: OutputRun) -> None:
    """Declares, then copies, the image files listed by each shard's write unit."""
    for i in range(len(m.shards)):
        listed = json.loads(work.local(f"copies/{i:06d}.json").read_text())
        declare_and_copy(outputs, outdir, listed)


def merge_records(
    work: WorkDir, m: Manifest, kind: str, schema: pa.Schema, target: Location
) -> None:
    with target.write() as f, pq.ParquetWriter(f, schema) as writer:
        for i in range(len(m.shards)):
            writer.write_table(pq.read_table(work.local(f"records/{kind}-{i:06d}.parquet")))
