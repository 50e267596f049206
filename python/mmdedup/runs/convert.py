"""Interleaved documents from one layout to another, shard by shard."""

from __future__ import annotations

import os
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any

from .. import _core
from ..errors import OnError, on_error_mode
from ..formats import FORMATS, read_documents, write_documents
from ..formats.markdown_layouts import MarkdownLayout
from ..formats.model import Problem
from ..io import Shard, discover
from .copies import copy_images, image_copies
from .dirs import Run
from .progress import Progress
from .shardwise import finish, run_shards


@dataclass
class ConvertSummary:
    """What a conversion did.

    Attributes:
        documents_in: Rows read (including rows in error).
        documents_out: Documents written.
        errors: Rows that could not be read (not written).
        repairs: Rows written after a documented repair.
        warnings: Documents whose images land inside a code block of the markdown written
            (PIN, WanJuan): a code fence split over several texts around an image, as MMC4
            sentences can be. They are written, but read back as code, not images.
        images_copied: Image files copied beside the output.
        outputs: The files written.
        work_dir: The work directory: where, how large, whether it was kept.
    """

    documents_in: int = 0
    documents_out: int = 0
    errors: list[Problem] = field(default_factory=list)
    repairs: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    images_copied: int = 0
    outputs: list[Path] = field(default_factory=list)
    work_dir: dict[str, Any] = field(default_factory=dict)


def _output_name(name: str, container: str) -> str:
    stem = name
    for suffix in (".gz", ".zst", ".parquet", ".pq", ".jsonl", ".ndjson", ".json"):
        stem = stem.removesuffix(suffix)
    # A compressed JSON Lines input gives a JSON Lines output compressed the same way.
    packed = next((c for c in (".gz", ".zst") if name.lower().endswith(c)), "")
    return f"{stem}.{container}{packed if container == 'jsonl' else ''}"


def convert_files(
    inputs: list[str],
    outdir: Path,
    *,
    to: str,
    format: str | None = None,
    on_error: OnError = "record",
    overwrite: bool = False,
    resume: bool = False,
    work_dir: str | os.PathLike[str] | None = None,
    keep_work_dir: bool = False,
    threads: int | None = None,
    progress: bool | Progress = False,
) -> ConvertSummary:
    """Converts shards to layout ``to`` under ``outdir``, keeping their relative names.

    Image files named by a relative path (PIN's ``content_image/...``) are copied along, so the
    paths in the output stay valid. ``outdir`` may not hold or lie in an input; holding an
    earlier conversion, it is refused unless ``overwrite``, which removes that conversion's files.
    Each shard is a unit of work: after an interruption, ``resume`` converts only the shards
    not done (the work directory, ``OUTDIR/.mmdedup-work`` or ``work_dir``, holds a record per
    finished shard; removed when the run succeeds unless ``keep_work_dir``).

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.jsonl").write_text('{"content": "Hi ![](http://x/y.png)", '
    ...     '"img_list": [{"url": "http://x/y.png"}]}\\n')
    >>> s = convert_files([str(d / "a.jsonl")], d / "out", to="obelics")
    >>> s.documents_out, [p.name for p in s.outputs]
    (1, ['a.parquet'])
    """
    if threads is not None:
        _core.set_num_threads(threads)
    layout = FORMATS[to]
    mode = on_error_mode(on_error)
    shards = discover(inputs)
    names = [_output_name(shard.name, layout.container) for shard in shards]
    manifest = {"command": "convert", "to": to, "format": format, "on_error": mode}
    records = run_shards(
        "convert",
        outdir,
        inputs=inputs,
        shards=shards,
        names=names,
        manifest=manifest,
        work_dir=work_dir,
        resume=resume,
        overwrite=overwrite,
        progress=progress,
        fn=lambda i, shard, out: _convert_shard(shard, outdir, names[i], layout, format, mode, out),
    )
    summary = ConvertSummary()
    for r in records:
        summary.documents_in += r["documents_in"]
        summary.documents_out += r["documents_out"]
        summary.errors += [Problem(*p) for p in r["errors"]]
        summary.repairs += [Problem(*p) for p in r["repairs"]]
        summary.warnings += [Problem(*p) for p in r["warnings"]]
        summary.images_copied += r["images_copied"]
        summary.outputs.append(Path(r["output"]))
    summary.work_dir = finish(outdir, work_dir, keep_work_dir)
    return summary


def _convert_shard(
    shard: Shard,
    outdir: Path,
    name: str,
    layout: Any,
    format: str | None,
    on_error: str,
    out: Run,
) -> dict[str, Any]:
    """Converts one shard; its record for the run's summary."""
    target = outdir / name
    docs = read_documents(shard, format=format, on_error=on_error_mode(on_error))
    record: dict[str, Any] = {
        "documents_in": docs.table.num_rows + len(docs.errors),
        "documents_out": write_documents(docs.table, target, format=layout.name),
        "errors": [astuple(p) for p in docs.errors],
        "repairs": [astuple(p) for p in docs.repairs],
        "warnings": [],
        "images_copied": 0,
        "output": str(target),
    }
    if shard.path.is_local:
        pairs = image_copies(docs.table, shard.path.local().parent, target.parent)
        out.declare(dst.relative_to(outdir).as_posix() for _, dst in pairs)
        record["images_copied"] = copy_images(pairs)
    if isinstance(layout, MarkdownLayout):
        for row, segs in enumerate(docs.table.column("segments").to_pylist()):
            if lost := layout.lost_images(segs or []):
                msg = f"{lost} image(s) land inside a code block of the markdown: read as code"
                record["warnings"].append((str(target), row, msg))
    return record
