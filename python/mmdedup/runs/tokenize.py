"""LLM token counts (and ids) of every document of a corpus, shard by shard."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import _core
from ..errors import InputError, OnError, on_error_mode
from ..formats.model import Problem
from ..formats.pieces import ROW_GROUP_BYTES, blocks, read_pieces
from ..io import Shard, discover, iter_columns, shard_stats
from ..storage import Location, is_url, staged_write
from ..tokens import TemplateLike, Tokenizer, count_documents
from .budget import parse_size
from .engine import engine_map_units
from .progress import Progress
from .shardwise import finish, run_shards

BATCH = 4096


@dataclass
class TokenizeSummary:
    """What a run did.

    Attributes:
        documents: Documents tokenized.
        tokens: Their tokens, in total.
        errors: Rows that could not be read (left out of the output).
        outputs: The files written (an fsspec URL for a remote OUTDIR).
        seconds: Wall time.
        work_dir: The work directory: where, how large, whether it was kept.
    """

    documents: int = 0
    tokens: int = 0
    errors: list[Problem] = field(default_factory=list)
    outputs: list[Path | str] = field(default_factory=list)
    seconds: float = 0.0
    work_dir: dict[str, Any] = field(default_factory=dict)


def _output_name(name: str) -> str:
    stem = name
    for suffix in (".gz", ".zst", ".parquet", ".pq", ".jsonl", ".ndjson", ".json"):
        stem = stem.removesuffix(suffix)
    return f"{stem}.parquet"


def _plain_pieces(shard: Shard, column: str, piece_bytes: int) -> Iterator[pa.Table]:
    """A text column as documents of one text segment each, in pieces of about
    ``piece_bytes`` bytes of text."""
    rows, size = shard_stats(shard, [column])
    step = max(1, piece_bytes // max(1, -(-size // max(rows, 1))))
    start = 0
    for table in iter_columns(shard, [column], step):
        texts = table.column(column)
        kind = texts.type
        if not (
            pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)
        ):
            raise InputError(f"column {column!r} is {kind}, not text", path=str(shard.path))
        # JSON Lines text reads as large strings, a piece of nulls included; Parquet as its
        # schema says (strings for a column of nulls).
        if shard.format == "jsonl" and not pa.types.is_large_string(texts.type):
            texts = texts.cast(pa.large_string())
        elif pa.types.is_null(texts.type):
            texts = texts.cast(pa.string())
        n = len(texts)
        ids = pa.array([f"{shard.name}:{start + i}" for i in range(n)], pa.string())
        start += n
        yield pa.table({"doc_id": ids, "text": texts})


def _count_plain(
    table: pa.Table, tok: Tokenizer, *, ids: bool, text: bool, add_special_tokens: bool
) -> pa.Table:
    texts = table.column("text").combine_chunks()
    lengths = pc.fill_null(pc.binary_length(texts), 0).to_numpy(zero_copy_only=False)
    n = len(lengths)
    valid = texts.is_valid().to_numpy(zero_copy_only=False)
    # One segment, the whole text, per non-null document.
    bounds = np.zeros((n, 2), np.uint64)
    bounds[:, 1] = lengths
    bounds = bounds[valid].ravel()
    offsets = np.concatenate([[0], np.cumsum(valid.astype(np.uint64) * 2)]).astype(np.uint64)
    totals, per_segment, id_lists = tok._core.count_segments(
        texts, bounds, offsets, add_special_tokens=add_special_tokens, ids=ids
    )
    seg_offsets = np.concatenate([[0], np.cumsum(valid)]).astype(np.int32)
    columns: dict[str, Any] = {
        "doc_id": table.column("doc_id"),
        "tokens": pa.array(totals, pa.uint32()),
        "segment_tokens": pa.ListArray.from_arrays(
            pa.array(seg_offsets), pa.array(per_segment, pa.uint32())
        ),
    }
    if ids:
        columns["ids"] = pa.array(id_lists)
    if text:
        columns["text"] = texts
    return pa.table(columns)


def tokenize_files(
    inputs: list[str],
    outdir: str | os.PathLike[str],
    *,
    tokenizer: Tokenizer,
    template: TemplateLike = "idefics",
    format: str | None = None,
    column: str | None = None,
    ids: bool = False,
    text: bool = False,
    add_special_tokens: bool = False,
    on_error: OnError = "record",
    progress: bool | Progress = False,
    overwrite: bool = False,
    resume: bool = False,
    work_dir: str | os.PathLike[str] | None = None,
    keep_work_dir: bool = False,
    memory: str | int = "4GB",
    threads: int | None = None,
    engine: Literal["local", "ray"] = "local",
    address: str | None = None,
) -> TokenizeSummary:
    """Writes ``outdir/<shard>.parquet`` per input shard: ``doc_id``, ``tokens``,
    ``segment_tokens``, and ``ids`` / ``text`` when asked for. See ``mmdedup tokenize --help``.
    ``outdir`` is a local path or an fsspec URL. Each shard is a unit of work, read and written
    a piece at a time within ``memory`` (bytes, or ``"4GB"``; the files written do not depend on
    it): ``resume`` goes on after an interruption, and ``engine``
    ``ray`` runs each as a Ray task, the tokenizer loaded there from its file (see
    :func:`mmdedup.runs.convert.convert_files`).

    >>> import tempfile, base64
    >>> from mmdedup.tokens import load_tokenizer
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.jsonl").write_text('{"text_list": ["Hi."], "image_info": []}\\n')
    >>> _ = (d / "b.tiktoken").write_text("".join(
    ...     f"{base64.b64encode(bytes([b])).decode()} {b}\\n" for b in range(256)))
    >>> tok = load_tokenizer(d / "b.tiktoken", pattern="cl100k_base")
    >>> s = tokenize_files([str(d / "a.jsonl")], d / "out", tokenizer=tok, template="openflamingo")
    >>> s.documents, s.tokens > 3, [Path(p).name for p in s.outputs]
    (1, True, ['a.parquet'])
    """
    t0 = time.perf_counter()
    budget = memory if isinstance(memory, int) else parse_size(memory)
    if threads is not None:
        _core.set_num_threads(threads)
    map_units = engine_map_units(engine, address, threads)
    mode = on_error_mode(on_error)
    shards = discover(inputs)
    names = [_output_name(shard.name) for shard in shards]
    manifest = {
        "command": "tokenize",
        "tokenizer": [tokenizer.path, tokenizer.kind, tokenizer.vocab_size],
        "template": repr(template) if column is None else None,
        "format": format,
        "column": column,
        "ids": ids,
        "text": text,
        "add_special_tokens": add_special_tokens,
        "on_error": mode,
    }
    kw = {"ids": ids, "text": text, "add_special_tokens": add_special_tokens}
    where = os.fspath(outdir)
    out = Location(where)
    records = run_shards(
        "tokenize",
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
            _tokenize_shard,
            targets=[str(out / n) if not out.is_local else str(Path(where) / n) for n in names],
            tokenizer=tokenizer,
            template=template,
            format=format,
            column=column,
            on_error=mode,
            kw=kw,
            memory=budget,
        ),
        map_units=map_units,
    )
    summary = TokenizeSummary()
    for r in records:
        summary.documents += r["documents"]
        summary.tokens += r["tokens"]
        summary.errors += [Problem(*p) for p in r["errors"]]
        summary.outputs.append(r["output"] if is_url(r["output"]) else Path(r["output"]))
    summary.work_dir = finish(where, work_dir, keep_work_dir)
    summary.seconds = time.perf_counter() - t0
    return summary


def _tokenize_shard(
    i: int,
    shard: Shard,
    *,
    targets: list[str],
    tokenizer: Tokenizer,
    template: TemplateLike,
    format: str | None,
    column: str | None,
    on_error: str,
    kw: dict[str, bool],
    memory: int,
) -> dict[str, Any]:
    """Tokenizes shard ``i`` into its target, a piece at a time within ``memory``, a row group
    of every :data:`BATCH` documents (fewer when their text passes
    :data:`~mmdedup.formats.pieces.ROW_GROUP_BYTES`); its record for the run's summary."""
    target = Location(targets[i])
    errors: list[Problem] = []
    tables: Iterator[pa.Table]
    if column is not None:
        tables = _plain_pieces(shard, column, memory // 16)
    else:
        tables = _documents(shard, format, on_error, memory // 16, errors)
    documents = tokens = 0
    with staged_write(target) as f:
        writer: pq.ParquetWriter | None = None
        try:
            for batch in blocks(tables, BATCH, ROW_GROUP_BYTES):
                if batch.num_rows == 0:
                    part = _empty(kw["ids"], kw["text"])
                else:
                    try:
                        if column is not None:
                            part = _count_plain(batch, tokenizer, **kw)
                        else:
                            part = count_documents(batch, tokenizer, template=template, **kw)
                    except InputError as e:
                        raise _locate(e, batch, shard) from e
                if writer is None:
                    writer = pq.ParquetWriter(f, part.schema)
                elif part.schema != writer.schema:
                    part = part.cast(writer.schema)
                writer.write_table(part)
                documents += part.num_rows
                tokens += int(pc.sum(part.column("tokens")).as_py() or 0)
        finally:
            if writer is not None:
                writer.close()
    return {
        "documents": documents,
        "tokens": tokens,
        "errors": [astuple(p) for p in errors],
        "output": targets[i],
    }


def _documents(
    shard: Shard, format: str | None, on_error: str, piece_bytes: int, errors: list[Problem]
) -> Iterator[pa.Table]:
    """The documents of a shard a piece at a time, their rows in error added to ``errors``."""
    pieces = read_pieces(
        shard, format=format, on_error=on_error_mode(on_error), piece_bytes=piece_bytes
    )
    for docs in pieces:
        errors += docs.errors
        yield docs.table


def _empty(ids: bool, text: bool) -> pa.Table:
    cols: dict[str, pa.Array] = {
        "doc_id": pa.array([], pa.string()),
        "tokens": pa.array([], pa.uint32()),
        "segment_tokens": pa.array([], pa.list_(pa.uint32())),
    }
    if ids:
        cols["ids"] = pa.array([], pa.list_(pa.field("item", pa.uint32(), nullable=False)))
    if text:
        cols["text"] = pa.array([], pa.string())
    return pa.table(cols)


def _locate(e: InputError, batch: pa.Table, shard: Shard) -> InputError:
    """The error of a batch row, naming the shard and the row in it."""
    if e.row is None:
        return InputError(str(e), path=str(shard.path))
    doc_id = str(batch.column("doc_id")[e.row].as_py())
    row = int(doc_id.rsplit(":", 1)[-1])
    reason = str(e).split(": ", 1)[-1] if str(e).startswith("row ") else str(e)
    return InputError(reason, path=str(shard.path), row=row)
