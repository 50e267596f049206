"""LLM token counts (and ids) of every document of a corpus, shard by shard."""

from __future__ import annotations

import functools
import os
import time
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import _core
from ..errors import InputError, OnError, on_error_mode
from ..formats import read_documents
from ..formats.model import Problem
from ..io import Shard, discover, read_columns, write_table
from ..tokens import TemplateLike, Tokenizer, count_documents
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
        outputs: The files written.
        seconds: Wall time.
        work_dir: The work directory: where, how large, whether it was kept.
    """

    documents: int = 0
    tokens: int = 0
    errors: list[Problem] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    work_dir: dict[str, Any] = field(default_factory=dict)


def _output_name(name: str) -> str:
    stem = name
    for suffix in (".gz", ".zst", ".parquet", ".pq", ".jsonl", ".ndjson", ".json"):
        stem = stem.removesuffix(suffix)
    return f"{stem}.parquet"


def _plain_table(shard: Shard, column: str) -> pa.Table:
    """A text column as documents of one text segment each."""
    texts = read_columns(shard, [column]).column(column)
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        if not pa.types.is_null(texts.type):
            raise InputError(f"column {column!r} is {texts.type}, not text", path=str(shard.path))
        texts = texts.cast(pa.string())
    ids = pa.array([f"{shard.name}:{i}" for i in range(len(texts))], pa.string())
    return pa.table({"doc_id": ids, "text": texts})


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
    outdir: Path,
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
    threads: int | None = None,
    engine: Literal["local", "ray"] = "local",
    address: str | None = None,
) -> TokenizeSummary:
    """Writes ``outdir/<shard>.parquet`` per input shard: ``doc_id``, ``tokens``,
    ``segment_tokens``, and ``ids`` / ``text`` when asked for. See ``mmdedup tokenize --help``.
    Each shard is a unit of work: ``resume`` goes on after an interruption, and ``engine``
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
    >>> s.documents, s.tokens > 3, [p.name for p in s.outputs]
    (1, True, ['a.parquet'])
    """
    t0 = time.perf_counter()
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
    records = run_shards(
        "tokenize",
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
            _tokenize_shard,
            targets=[outdir / n for n in names],
            tokenizer=tokenizer,
            template=template,
            format=format,
            column=column,
            on_error=mode,
            kw=kw,
        ),
        map_units=map_units,
    )
    summary = TokenizeSummary()
    for r in records:
        summary.documents += r["documents"]
        summary.tokens += r["tokens"]
        summary.errors += [Problem(*p) for p in r["errors"]]
        summary.outputs.append(Path(r["output"]))
    summary.work_dir = finish(outdir, work_dir, keep_work_dir)
    summary.seconds = time.perf_counter() - t0
    return summary


def _tokenize_shard(
    i: int,
    shard: Shard,
    *,
    targets: list[Path],
    tokenizer: Tokenizer,
    template: TemplateLike,
    format: str | None,
    column: str | None,
    on_error: str,
    kw: dict[str, bool],
) -> dict[str, Any]:
    """Tokenizes shard ``i`` into its target; its record for the run's summary."""
    target = targets[i]
    errors: list[Problem] = []
    if column is not None:
        table = _plain_table(shard, column)
    else:
        docs = read_documents(shard, format=format, on_error=on_error_mode(on_error))
        errors = docs.errors
        table = docs.table
    parts = []
    for start in range(0, table.num_rows, BATCH):
        batch = table.slice(start, BATCH)
        try:
            if column is not None:
                part = _count_plain(batch, tokenizer, **kw)
            else:
                part = count_documents(batch, tokenizer, template=template, **kw)
        except InputError as e:
            raise _locate(e, batch, shard) from e
        parts.append(part)
    out = pa.concat_tables(parts) if parts else _empty(kw["ids"], kw["text"])
    write_table(out, target)
    return {
        "documents": out.num_rows,
        "tokens": int(pc.sum(out.column("tokens")).as_py() or 0),
        "errors": [astuple(p) for p in errors],
        "output": str(target),
    }


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
