"""Interleaved documents from one layout to another, shard by shard."""

from __future__ import annotations

import functools
import os
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .. import _core
from ..errors import OnError, on_error_mode
from ..formats import FORMATS, read_documents, write_documents
from ..formats.markdown_layouts import MarkdownLayout
from ..formats.model import Problem
from ..io import Shard, discover
from .copies import declare_and_copy, image_copies
from .dirs import Run
from .engine import engine_map_units
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
    engine: Literal["local", "ray"] = "local",
    address: str | None = None,
) -> ConvertSummary:
    """Converts shards to layout ``to`` under ``outdir``, keeping their relative names.

    Image files named by a relative path (PIN's ``content_image/...``) are copied along, so the
    paths in the output stay valid. ``outdir`` may not hold or lie in an input; holding an
    earlier conversion, it is refused unless ``overwrite``, which removes that conversion's files.
    Each shard is a unit of work: after an interruption, ``resume`` converts only the shards
    not done (the work directory, ``OUTDIR/.mmdedup-work`` or ``work_dir``, holds a record per
    finished shard; removed when the run succeeds unless ``keep_work_dir``; an fsspec URL such
    as ``s3://bucket/run/`` keeps it on object storage). With ``engine``
    ``ray``, each shard is a Ray task (``address``: the cluster's; inputs, ``outdir`` and the
    work directory on storage every node sees); the image files are copied by the driver.

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
    map_units = engine_map_units(engine, address, threads)
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
        fn=functools.partial(
            _convert_shard, outdir=outdir, names=names, to=to, format=format, on_error=mode
        ),
        map_units=map_units,
        after=functools.partial(_copy_images, outdir),
    )
    summary = ConvertSummary()
    for r in records:
        summary.documents_in += r["documents_in"]
        summary.documents_out += r["documents_out"]
        summary.errors += [Problem(*p) for p in r["errors"]]
        summary.repairs += [Problem(*p) for p in r["repairs"]]
        summary.warnings += [Problem(*p) for p in r["warnings"]]
        summary.outputs.append(Path(r["output"]))
    # Image files that travel with the shards, each once (shards may share one).
    summary.images_copied = len({dst for r in records for _, dst in r["copies"]})
    summary.work_dir = finish(outdir, work_dir, keep_work_dir)
    return summary


def _convert_shard(
    i: int,
    shard: Shard,
    *,
    outdir: Path,
    names: list[str],
    to: str,
    format: str | None,
    on_error: str,
) -> dict[str, Any]:
    """Converts shard ``i``; its record for the run's summary, with the image files that travel
    with it (copied by the driver, :func:`_copy_images`)."""
    layout = FORMATS[to]
    target = outdir / names[i]
    docs = read_documents(shard, format=format, on_error=on_error_mode(on_error))
    record: dict[str, Any] = {
        "documents_in": docs.table.num_rows + len(docs.errors),
        "documents_out": write_documents(docs.table, target, format=layout.name),
        "errors": [astuple(p) for p in docs.errors],
        "repairs": [astuple(p) for p in docs.repairs],
        "warnings": [],
        "copies": [],
        "output": str(target),
    }
    if shard.path.is_local:
        pairs = image_copies(docs.table, shard.path.local().parent, target.parent)
        record["copies"] = [[str(src), dst.relative_to(outdir).as_posix()] for src, dst in pairs]
    if isinstance(layout, MarkdownLayout):
        for row, segs in enumerate(docs.table.column("segments").to_pylist()):
            if lost := layout.lost_images(segs or []):
                msg = f"{lost} image(s) land inside a code block of the markdown: read as code"
                record["warnings"].append((str(target), row, msg))
    return record


def _copy_images(outdir: Path, records: list[dict[str, Any]], out: Run) -> None:
    """Declares, then copies, the image files each shard's record lists (those already there
    from an earlier attempt are left)."""
    for r in records:
        declare_and_copy(out, outdir, r["copies"])
