"""The ``mmdedup`` command line."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import click
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from . import _core
from .dedup import (
    DedupConfig,
    Method,
    Signatures,
    Verify,
    choose_keep,
    compute_signatures,
    find_clusters,
    parse_keep,
)
from .errors import InputError, MmdedupError
from .io import Shard, atomic_write, discover, read_columns, write_filtered, write_table
from .text import Tokenizer

__all__ = ["main"]

STATUSES = ("unique", "kept", "duplicate", "empty", "error")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(_core.__version__, prog_name="mmdedup")
def main() -> None:
    """Remove exact and near-duplicate documents from training corpora.

    \b
    Quick start:
      mmdedup dedup shards/*.parquet -o out/
      mmdedup dedup data/ -o out/ --method exact
      mmdedup dedup crawl/*.jsonl.gz -o out/ --threshold 0.7 --keep max:quality

    Run `mmdedup COMMAND --help` for the options of a command.
    """


@dataclass
class _Shards:
    """What the signature stage learns about each shard."""

    rows: list[int] = field(default_factory=list)
    ids: list[pa.ChunkedArray] = field(default_factory=list)
    texts: list[pa.ChunkedArray] = field(default_factory=list)
    keys: list[npt.NDArray[np.float64]] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)  # global row -> message


def _progress(items: list[Shard], desc: str, quiet: bool) -> tqdm[Shard]:
    return tqdm(items, desc=desc, unit="shard", disable=quiet or None, file=sys.stderr, leave=False)


@main.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "-o",
    "--output",
    "outdir",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory for the deduplicated shards, clusters.parquet and summary.json.",
)
@click.option(
    "-c",
    "--column",
    default="text",
    show_default=True,
    help="The text column (string, or binary holding UTF-8).",
)
@click.option(
    "--id-column", default=None, help="A column copied into clusters.parquet to join results back."
)
@click.option(
    "-m",
    "--method",
    type=click.Choice(["minhash", "simhash", "exact"]),
    default="minhash",
    show_default=True,
    help="minhash: Jaccard of shingle sets; simhash: Hamming distance "
    "of 64-bit fingerprints; exact: equal text after normalization.",
)
@click.option(
    "-t",
    "--threshold",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.8,
    show_default=True,
    help="Jaccard similarity from which documents are duplicates (minhash).",
)
@click.option(
    "--num-perm",
    type=click.IntRange(2, 8192),
    default=128,
    show_default=True,
    help="MinHash slots.",
)
@click.option(
    "--ngram",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="Shingle size (words, or characters with --tokenizer char).",
)
@click.option(
    "--tokenizer",
    type=click.Choice(["word", "char"]),
    default="word",
    show_default=True,
    help="Shingle unit. Word tokens split Chinese, Japanese and Thai into characters.",
)
@click.option(
    "--bands",
    type=click.IntRange(1),
    default=None,
    help="LSH bands (with --rows); default: datasketch's optimum for --threshold.",
)
@click.option(
    "--rows", type=click.IntRange(1), default=None, help="LSH rows per band (with --bands)."
)
@click.option(
    "--verify",
    type=click.Choice(["signature", "jaccard", "none"]),
    default="signature",
    show_default=True,
    help="Check each LSH candidate pair before it joins a cluster: by "
    "signature agreement, by exact Jaccard, or not at all.",
)
@click.option(
    "--max-distance",
    type=click.IntRange(0, 32),
    default=3,
    show_default=True,
    help="Largest Hamming distance between duplicates (simhash).",
)
@click.option(
    "--keep",
    "keep_rule",
    default="first",
    show_default=True,
    help="Which member of a cluster stays: first (input order), longest, max:COLUMN or min:COLUMN.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="MinHash seed.")
@click.option(
    "--no-normalize",
    is_flag=True,
    help="Hash texts as they are (no NFKC, case or punctuation folding).",
)
@click.option("--fold-digits", is_flag=True, help="Treat all digits as equal.")
@click.option("--strip-accents", is_flag=True, help="Treat accented letters as unaccented.")
@click.option(
    "--on-error",
    type=click.Choice(["raise", "keep"]),
    default="raise",
    show_default=True,
    help="A row whose text cannot be read (invalid UTF-8): stop with an error naming "
    "file and row, or keep the row untouched and record it with status 'error'.",
)
@click.option(
    "--threads", type=click.IntRange(1), default=None, help="Worker threads (default: all cores)."
)
@click.option("--overwrite", is_flag=True, help="Replace the results of an earlier run in OUTDIR.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or summary.")
def dedup(
    inputs: tuple[str, ...],
    outdir: Path,
    column: str,
    id_column: str | None,
    method: str,
    threshold: float,
    num_perm: int,
    ngram: int,
    tokenizer: str,
    bands: int | None,
    rows: int | None,
    verify: str,
    max_distance: int,
    keep_rule: str,
    seed: int,
    no_normalize: bool,
    fold_digits: bool,
    strip_accents: bool,
    on_error: str,
    threads: int | None,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Remove duplicate documents from Parquet and JSON Lines shards.

    INPUT is a file, a directory (searched recursively) or a glob pattern; shards are taken in
    sorted path order, which defines "first". OUTDIR receives:

    \b
      <shard name>      each input shard without its duplicates (same name and schema;
                        JSON Lines lines are copied byte for byte)
      clusters.parquet  one row per input document: shard, row, [id column], cluster,
                        keep, status (unique, kept, duplicate, empty, error), error
      summary.json      counts, parameters and time per stage

    Null, empty and punctuation-only texts are never duplicates (status 'empty').

    \b
    Examples:
      mmdedup dedup data/*.parquet -o out/
      mmdedup dedup crawl/ -o out/ --method exact --id-column url
      mmdedup dedup docs.jsonl -o out/ -t 0.7 --ngram 3 --keep longest
      mmdedup dedup zh/*.parquet -o out/ --tokenizer char --ngram 5 --keep max:score
    """
    try:
        summary = run_dedup(
            inputs,
            outdir,
            column=column,
            id_column=id_column,
            keep_rule=keep_rule,
            on_error=on_error,
            threads=threads,
            overwrite=overwrite,
            quiet=quiet,
            config=DedupConfig(
                method=cast(Method, method),
                threshold=threshold,
                num_perm=num_perm,
                ngram=ngram,
                tokenizer=cast(Tokenizer, tokenizer),
                bands=bands,
                rows=rows,
                verify=cast(Verify, verify),
                max_distance=max_distance,
                seed=seed,
                normalize=not no_normalize,
                fold_digits=fold_digits,
                strip_accents=strip_accents,
            ),
        )
    except MmdedupError as e:
        raise click.ClickException(str(e)) from e
    if not quiet:
        _print_summary(summary, outdir)


def _print_summary(s: dict[str, Any], outdir: Path) -> None:
    c: dict[str, int] = s["counts"]
    st: dict[str, int] = s["status"]
    click.echo(
        f"{c['documents']:,} documents in {len(s['shards'])} shard(s): kept {c['kept']:,}, "
        f"removed {c['removed']:,} duplicates in {c['clusters']:,} clusters "
        f"({st['empty']:,} empty, {st['error']:,} errors) in {s['seconds']['total']:.1f} s"
    )
    click.echo(f"results in {outdir}/ (clusters.parquet, summary.json)")


def run_dedup(
    inputs: tuple[str, ...] | list[str],
    outdir: Path,
    *,
    config: DedupConfig,
    column: str = "text",
    id_column: str | None = None,
    keep_rule: str = "first",
    on_error: str = "raise",
    threads: int | None = None,
    overwrite: bool = False,
    quiet: bool = True,
) -> dict[str, Any]:
    """Runs a whole dedup over shards; what ``mmdedup dedup`` does. Returns the summary."""
    t0 = time.perf_counter()
    rule = parse_keep(keep_rule)
    if threads is not None:
        _core.set_num_threads(threads)
    shards = discover(inputs)
    outdir = Path(outdir)
    if (outdir / "summary.json").exists() and not overwrite:
        raise InputError(
            f"{outdir} holds the results of an earlier run; pass --overwrite to replace them"
        )
    clashes = [s for s in shards if (outdir / s.name).resolve() == s.path]
    if clashes:
        raise InputError(f"output would overwrite input {clashes[0].path}; choose another -o")
    columns = [column] + [c for c in (id_column, rule[1]) if c and c != column]
    seconds: dict[str, float] = {}

    # Stage 1: signatures, shard by shard.
    t = time.perf_counter()
    info = _Shards()
    parts: list[Signatures] = []
    offset = 0
    for shard in _progress(shards, "signatures", quiet):
        table = read_columns(shard, columns)
        texts = _text_column(table, column, shard, offset, on_error, info.errors)
        parts.append(compute_signatures(texts, config))
        info.rows.append(table.num_rows)
        if id_column:
            info.ids.append(table[id_column])
        if config.verify == "jaccard" and config.method == "minhash":
            info.texts.append(texts)
        if rule[0] == "longest":
            info.keys.append(
                pc.utf8_length(texts.cast(pa.large_string()))
                .to_numpy(zero_copy_only=False)
                .astype(np.float64)
            )
        elif rule[0] in ("max", "min"):
            info.keys.append(_numeric_key(table[rule[1]], shard))
        offset += table.num_rows
    sigs = Signatures.concat(parts, config)
    seconds["signatures"] = time.perf_counter() - t

    # Stage 2: candidates, verification and connected components.
    t = time.perf_counter()
    all_texts = _concat(info.texts) if info.texts else None
    labels, pair_stats = find_clusters(sigs, config, all_texts)
    if info.errors:
        labels[list(info.errors)] = -1
    key = np.concatenate(info.keys) if info.keys else None
    keep = choose_keep(labels, rule, key)
    seconds["clusters"] = time.perf_counter() - t

    # Stage 3: outputs; summary.json last, so its presence means a complete run.
    t = time.perf_counter()
    outdir.mkdir(parents=True, exist_ok=True)
    status = _status(labels, keep, sigs.empty, info.errors)
    shard_summaries = []
    start = 0
    for shard, n in zip(_progress(shards, "writing", quiet), info.rows, strict=True):
        kept = write_filtered(shard, keep[start : start + n], outdir)
        shard_summaries.append({"shard": shard.name, "documents": n, "kept": kept})
        start += n
    write_table(
        _clusters_table(shards, info, labels, keep, status, id_column), outdir / "clusters.parquet"
    )
    seconds["write"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0

    counts = {s: int((status == s).sum()) for s in STATUSES}
    summary: dict[str, Any] = {
        "mmdedup_version": _core.__version__,
        "inputs": list(inputs),
        "column": column,
        "id_column": id_column,
        "keep": keep_rule,
        "on_error": on_error,
        "parameters": config.to_dict(),
        "counts": {
            "documents": len(labels),
            "kept": int(keep.sum()),
            "removed": int((~keep).sum()),
            "clusters": len(np.unique(labels[labels >= 0])),
            **pair_stats,
        },
        "status": counts,
        "shards": shard_summaries,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "threads": _core.get_num_threads(),
    }
    with atomic_write(outdir / "summary.json") as f:
        f.write(json.dumps(summary, indent=2).encode() + b"\n")
    return summary


def _text_column(
    table: pa.Table, column: str, shard: Shard, offset: int, on_error: str, errors: dict[int, str]
) -> pa.ChunkedArray:
    texts = table[column]
    t = texts.type
    if pa.types.is_null(t):
        return texts.cast(pa.string())
    if not (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_string_view(t)
        or pa.types.is_binary_view(t)
    ):
        raise InputError(
            f"column {column!r} has type {t}; expected string or binary", path=str(shard.path)
        )
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        bad = _core.invalid_utf8_rows(texts)
        if len(bad) and on_error == "raise":
            raise InputError(
                f"column {column!r} is not valid UTF-8 (use --on-error keep to keep such rows)",
                path=str(shard.path),
                row=int(bad[0]),
            )
        if len(bad):
            mask = np.zeros(len(texts), dtype=np.bool_)
            mask[bad] = True
            texts = pc.if_else(pa.array(mask), pa.scalar(None, t), texts)
            for r in bad:
                errors[offset + int(r)] = f"column {column!r} is not valid UTF-8"
    return texts


def _numeric_key(values: pa.ChunkedArray, shard: Shard) -> npt.NDArray[np.float64]:
    t = values.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        return np.asarray(
            values.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
        )
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return np.asarray(
            values.cast(pa.int64()).cast(pa.float64()).to_numpy(zero_copy_only=False),
            dtype=np.float64,
        )
    raise InputError(
        f"--keep column has type {t}; expected a number or a date", path=str(shard.path)
    )


def _status(
    labels: npt.NDArray[np.int64],
    keep: npt.NDArray[np.bool_],
    empty: npt.NDArray[np.bool_],
    errors: dict[int, str],
) -> npt.NDArray[np.str_]:
    status = np.full(len(labels), "unique", dtype=object)
    status[empty] = "empty"
    status[(labels >= 0) & keep] = "kept"
    status[(labels >= 0) & ~keep] = "duplicate"
    if errors:
        status[list(errors)] = "error"
    return status


def _concat(parts: list[pa.ChunkedArray]) -> pa.ChunkedArray:
    """One column from per-shard columns whose types may differ (string vs large_string, ...)."""
    tables = [pa.table({"x": p}) for p in parts]
    return pa.concat_tables(tables, promote_options="permissive")["x"]


def _clusters_table(
    shards: list[Shard],
    info: _Shards,
    labels: npt.NDArray[np.int64],
    keep: npt.NDArray[np.bool_],
    status: npt.NDArray[Any],
    id_column: str | None,
) -> pa.Table:
    shard_idx = np.repeat(np.arange(len(shards)), info.rows)
    names = pa.DictionaryArray.from_arrays(
        pa.array(shard_idx, pa.int32()), pa.array([s.name for s in shards])
    )
    cols: dict[str, Any] = {
        "shard": names,
        "row": pa.array(
            np.concatenate([np.arange(n) for n in info.rows]) if info.rows else [], pa.int64()
        ),
    }
    if id_column:
        cols[id_column] = _concat(info.ids)
    cols["cluster"] = pa.array(labels, mask=labels < 0, type=pa.int64())
    cols["keep"] = pa.array(keep)
    cols["status"] = pa.array(status, pa.string())
    if info.errors:
        errors = np.full(len(labels), None, dtype=object)
        for row, msg in info.errors.items():
            errors[row] = msg
        cols["error"] = pa.array(errors, pa.string())
    else:
        cols["error"] = pa.nulls(len(labels), pa.string())
    return pa.table(cols)


def _register() -> None:
    from .images_cli import images

    main.add_command(images)


_register()
