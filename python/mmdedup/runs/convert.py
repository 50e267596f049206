"""Interleaved documents from one layout to another, shard by shard."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import astuple, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import pyarrow as pa

from .. import _core
from ..errors import InputError, OnError, on_error_mode
from ..formats import FORMATS
from ..formats.base import Layout
from ..formats.markdown_layouts import MarkdownLayout
from ..formats.model import Documents, Problem
from ..formats.pieces import read_pieces, write_pieces
from ..io import Shard, discover
from ..storage import Location, is_url, staged_write
from .budget import parse_size
from .copies import declare_and_copy, relative_images
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
        keys_in_extra: Outputs (Parquet, from JSON Lines) whose source keys are written as
            the one JSON column ``extra`` instead of columns, each with why (a key without one
            type, a key named like a column the layout writes, too many keys). Nothing is lost;
            a JSON Lines output gets the keys back.
        images_copied: Image files copied beside the output.
        outputs: The files written (an fsspec URL for a remote OUTDIR).
        work_dir: The work directory: where, how large, whether it was kept.
    """

    documents_in: int = 0
    documents_out: int = 0
    errors: list[Problem] = field(default_factory=list)
    repairs: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    keys_in_extra: list[tuple[str, str]] = field(default_factory=list)
    images_copied: int = 0
    outputs: list[Path | str] = field(default_factory=list)
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
    outdir: str | os.PathLike[str],
    *,
    to: str,
    format: str | None = None,
    on_error: OnError = "record",
    overwrite: bool = False,
    resume: bool = False,
    work_dir: str | os.PathLike[str] | None = None,
    keep_work_dir: bool = False,
    memory: str | int = "4GB",
    threads: int | None = None,
    progress: bool | Progress = False,
    engine: Literal["local", "ray"] = "local",
    address: str | None = None,
) -> ConvertSummary:
    """Converts shards to layout ``to`` under ``outdir`` (a local path or an fsspec URL such
    as ``s3://bucket/out/``), keeping their relative names.

    Image files named by a relative path (PIN's ``content_image/...``) are copied along, so the
    paths in the output stay valid. ``outdir`` may not hold or lie in an input; holding an
    earlier conversion, it is refused unless ``overwrite``, which removes that conversion's files.
    Each shard is a unit of work, read and written a piece at a time within ``memory`` (bytes,
    or ``"4GB"``); the files written do not depend on it. After an interruption, ``resume``
    converts only the shards not done (the work directory, ``OUTDIR/.mmdedup-work`` or
    ``work_dir``, holds a record per finished shard; removed when the run succeeds unless
    ``keep_work_dir``; an fsspec URL such as ``s3://bucket/run/`` keeps it on object storage).
    With ``engine`` ``ray``, each shard is a Ray task (``address``: the cluster's; inputs,
    ``outdir`` and the work directory on storage every node sees); the image files are copied
    by the driver.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.jsonl").write_text('{"content": "Hi ![](http://x/y.png)", '
    ...     '"img_list": [{"url": "http://x/y.png"}]}\\n')
    >>> s = convert_files([str(d / "a.jsonl")], d / "out", to="obelics")
    >>> s.documents_out, [Path(p).name for p in s.outputs]
    (1, ['a.parquet'])
    """
    budget = memory if isinstance(memory, int) else parse_size(memory)
    if threads is not None:
        _core.set_num_threads(threads)
    map_units = engine_map_units(engine, address, threads)
    layout = FORMATS[to]
    mode = on_error_mode(on_error)
    shards = discover(inputs)
    names = [_output_name(shard.name, layout.container) for shard in shards]
    manifest = {"command": "convert", "to": to, "format": format, "on_error": mode}
    where = os.fspath(outdir)
    records = run_shards(
        "convert",
        where,
        inputs=inputs,
        shards=shards,
        names=names,
        manifest=manifest,
        work_dir=work_dir,
        resume=resume,
        overwrite=overwrite,
        progress=progress,
        fn=functools.partial(
            _convert_shard,
            outdir=where,
            names=names,
            to=to,
            format=format,
            on_error=mode,
            memory=budget,
        ),
        map_units=map_units,
        after=functools.partial(_copy_images, where),
    )
    summary = ConvertSummary()
    for r in records:
        summary.documents_in += r["documents_in"]
        summary.documents_out += r["documents_out"]
        summary.errors += [Problem(*p) for p in r["errors"]]
        summary.repairs += [Problem(*p) for p in r["repairs"]]
        summary.warnings += [Problem(*p) for p in r["warnings"]]
        if r.get("keys_in_extra"):
            summary.keys_in_extra.append((r["output"], r["keys_in_extra"]))
        summary.outputs.append(r["output"] if is_url(r["output"]) else Path(r["output"]))
    # Image files that travel with the shards, each once (shards may share one).
    summary.images_copied = len({dst for r in records for _, dst in r["copies"]})
    summary.work_dir = finish(where, work_dir, keep_work_dir)
    return summary


def _convert_shard(
    i: int,
    shard: Shard,
    *,
    outdir: str,
    names: list[str],
    to: str,
    format: str | None,
    on_error: str,
    memory: int,
) -> dict[str, Any]:
    """Converts shard ``i`` a piece at a time within ``memory``; its record for the run's
    summary, with the image files that travel with it (copied by the driver,
    :func:`_copy_images`)."""
    layout = FORMATS[to]
    out = Location(outdir)
    target = out / names[i]
    shown = str(target) if not out.is_local else str(Path(outdir) / names[i])
    record: dict[str, Any] = {
        "documents_in": 0,
        "documents_out": 0,
        "errors": [],
        "repairs": [],
        "warnings": [],
        "copies": [],
        "output": shown,
    }
    folder = PurePosixPath(names[i]).parent
    src_dir: Location | None = shard.path.parent()  # local, or remote: image files are copied
    if (
        shard.path.is_local
        and out.is_local
        and shard.path.local().parent.resolve() == (out.local() / folder).resolve()
    ):
        src_dir = None  # the output lies beside the input: its image files are there
    copies: dict[str, str] = {}
    first = True

    def read() -> Iterator[pa.Table]:
        """The shard's documents a piece at a time; what they say of the run is recorded the
        first time they are read."""
        nonlocal first
        written = 0
        pieces = read_pieces(
            shard, format=format, on_error=on_error_mode(on_error), piece_bytes=memory // 16
        )
        for docs in pieces:
            if first:
                _note(record, docs, layout, shown, written)
                if src_dir is not None:
                    for rel, src in relative_images(docs.table, src_dir).items():
                        copies.setdefault((folder / rel).as_posix(), src)
            written += docs.table.num_rows
            yield docs.table
        first = False

    try:
        with staged_write(target) as f:
            record["documents_out"], record["keys_in_extra"] = write_pieces(
                read, f, layout=layout, name=names[i], keep_bytes=memory // 4
            )
    except InputError as e:
        if e.path is not None:
            raise
        # What the shard's documents cannot be written as (a key or column that clashes).
        raise InputError(str(e), path=str(shard.path)) from e
    record["copies"] = [[src, dst] for dst, src in copies.items()]
    return record


def _note(record: dict[str, Any], docs: Documents, layout: Layout, shown: str, row: int) -> None:
    """Adds a piece's documents, problems and warnings to the shard's record (``row``: the
    output row of its first document)."""
    record["documents_in"] += docs.table.num_rows + len(docs.errors)
    record["errors"] += [astuple(p) for p in docs.errors]
    record["repairs"] += [astuple(p) for p in docs.repairs]
    if isinstance(layout, MarkdownLayout):
        for j, segs in enumerate(docs.table.column("segments").to_pylist()):
            if lost := layout.lost_images(segs or []):
                msg = f"{lost} image(s) land inside a code block of the markdown: read as code"
                record["warnings"].append((shown, row + j, msg))


def _copy_images(outdir: str, records: list[dict[str, Any]], out: Run) -> None:
    """Declares, then copies, the image files each shard's record lists (those already there
    from an earlier attempt are left)."""
    where = Location(outdir)
    for r in records:
        declare_and_copy(out, where if not where.is_local else Path(outdir), r["copies"])
