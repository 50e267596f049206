"""LLM token counts (and ids) of every document of a corpus, shard by shard."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from ..errors import InputError, OnError, on_error_mode
from ..formats import read_documents
from ..formats.model import Problem
from ..io import Shard, discover, read_columns, write_table
from ..runs.dirs import open_run
from ..tokens import TemplateLike, Tokenizer, count_documents

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
    """

    documents: int = 0
    tokens: int = 0
    errors: list[Problem] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    seconds: float = 0.0


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
    progress: bool = False,
    overwrite: bool = False,
) -> TokenizeSummary:
    """Writes ``outdir/<shard>.parquet`` per input shard: ``doc_id``, ``tokens``,
    ``segment_tokens``, and ``ids`` / ``text`` when asked for. See ``mmdedup tokenize --help``.

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
    summary = TokenizeSummary()
    shards = discover(inputs)
    names = [_output_name(shard.name) for shard in shards]
    with (
        open_run(
            outdir, inputs=inputs, shards=[str(s.path) for s in shards], overwrite=overwrite
        ) as run,
        tqdm(
            desc="tokenizing",
            unit="doc",
            disable=not progress or None,
            file=sys.stderr,
            leave=False,
        ) as bar,
    ):
        run.declare(names)
        for shard, name in zip(shards, names, strict=True):
            if column is not None:
                table = _plain_table(shard, column)
            else:
                docs = read_documents(shard, format=format, on_error=on_error_mode(on_error))
                summary.errors += docs.errors
                table = docs.table
            parts = []
            for start in range(0, table.num_rows, BATCH):
                batch = table.slice(start, BATCH)
                try:
                    if column is not None:
                        part = _count_plain(
                            batch,
                            tokenizer,
                            ids=ids,
                            text=text,
                            add_special_tokens=add_special_tokens,
                        )
                    else:
                        part = count_documents(
                            batch,
                            tokenizer,
                            template=template,
                            ids=ids,
                            text=text,
                            add_special_tokens=add_special_tokens,
                        )
                except InputError as e:
                    raise _locate(e, batch, shard) from e
                parts.append(part)
                summary.tokens += int(pc.sum(part.column("tokens")).as_py() or 0)
                bar.update(part.num_rows)
            out = pa.concat_tables(parts) if parts else _empty(ids, text)
            target = outdir / name
            write_table(out, target)
            summary.documents += out.num_rows
            summary.outputs.append(target)
    summary.seconds = time.perf_counter() - t0
    return summary


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
