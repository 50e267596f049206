"""``mmdedup tokenize``: LLM token counts (and ids) of every document of a corpus."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import click
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from . import _core
from .errors import InputError, MmdedupError, ParameterError
from .formats import FORMATS, read_documents
from .formats.files import OnError
from .formats.model import Problem
from .io import Shard, discover, read_columns, write_table
from .runs.dirs import open_run
from .tokens import TEMPLATES, Template, TemplateLike, Tokenizer, count_documents, load_tokenizer

__all__ = ["TokenizeSummary", "tokenize", "tokenize_files"]

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
    for suffix in (".gz", ".parquet", ".pq", ".jsonl", ".ndjson", ".json"):
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
    on_error: OnError = "skip",
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
                docs = read_documents(shard, format=format, on_error=on_error)
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


def _parse_specials(items: tuple[str, ...]) -> dict[str, int] | None:
    if not items:
        return None
    out: dict[str, int] = {}
    for item in items:
        token, sep, value = item.rpartition("=")
        if not sep or not token or not value.isdigit():
            raise ParameterError(f"--special-token: expected TOKEN=ID, got {item!r}")
        out[token] = int(value)
    return out


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "-o",
    "--output",
    "outdir",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory for one Parquet file per input shard (same relative names).",
)
@click.option(
    "--tokenizer",
    "tokenizer_path",
    required=True,
    type=click.Path(path_type=Path),
    help="A Hugging Face tokenizer.json (or a directory holding one), or a tiktoken-style "
    "rank file (base64 token and rank per line).",
)
@click.option(
    "--format",
    "from_format",
    type=click.Choice(["auto", *FORMATS]),
    default="auto",
    show_default=True,
    help="Layout of the inputs (auto: detected from each file's columns or keys).",
)
@click.option(
    "--template",
    default="idefics",
    show_default=True,
    help="How a document becomes training text: idefics, openflamingo, or a JSON file of "
    "template fields (prefix, suffix, text, image, first_image, image_after_image, "
    "text_separator; base: a built-in to start from).",
)
@click.option(
    "-c",
    "--column",
    default=None,
    help="Tokenize this text column of each row instead (a plain text corpus, no layout).",
)
@click.option("--ids", is_flag=True, help="Also write the token ids (list<uint32>).")
@click.option("--text", is_flag=True, help="Also write the rendered training text.")
@click.option(
    "--add-special-tokens",
    is_flag=True,
    help="Let the tokenizer.json post-processor add its tokens (BOS, EOS, ...) to each "
    "document, on top of what the template writes.",
)
@click.option(
    "--pattern",
    default=None,
    help="Rank files: the split regex, or r50k_base, p50k_base, cl100k_base, o200k_base "
    "(default: the file's stem when it is one of them).",
)
@click.option(
    "--special-token",
    "special_tokens",
    multiple=True,
    metavar="TOKEN=ID",
    help="Rank files: a special token and its id (repeat the option for more).",
)
@click.option(
    "--on-error",
    type=click.Choice(["skip", "raise"]),
    default="skip",
    show_default=True,
    help="A row that cannot be read: leave it out and report it, or stop.",
)
@click.option(
    "--threads", type=click.IntRange(1), default=None, help="Worker threads (default: all cores)."
)
@click.option("--overwrite", is_flag=True, help="Replace the results of an earlier run in OUTDIR.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def tokenize(
    inputs: tuple[str, ...],
    outdir: Path,
    tokenizer_path: Path,
    from_format: str,
    template: str,
    column: str | None,
    ids: bool,
    text: bool,
    add_special_tokens: bool,
    pattern: str | None,
    special_tokens: tuple[str, ...],
    on_error: str,
    threads: int | None,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Count (and encode) the LLM tokens of every document.

    Each document is rendered to training text with image placeholders (--template) and
    tokenized with the tokenizer given. OUTDIR receives one Parquet file per input shard:

    \b
      doc_id          "<shard name>:<row>"
      tokens          uint32, tokens of the rendered document
      segment_tokens  list<uint32>, per segment (text or image placeholder); a token
                      counts in the segment its first byte is in, the template's prefix
                      and suffix in no segment
      ids             list<uint32> (--ids)
      text            the rendered document (--text)

    \b
    Templates:
      idefics       <s>text<fake_token_around_image><image><fake_token_around_image>...</s>
      openflamingo  <image>text<|endofchunk|><image>text<|endofchunk|><|endoftext|>

    Rows that cannot be read are reported with file and row, and left out.

    \b
    Examples:
      mmdedup tokenize obelics/*.parquet -o counts/ --tokenizer llama/tokenizer.json
      mmdedup tokenize mmc4/ -o counts/ --tokenizer tok.json --template openflamingo --ids
      mmdedup tokenize web/*.parquet -o counts/ --tokenizer cl100k_base.tiktoken --column text
      mmdedup tokenize pin/ -o out/ --tokenizer tok.json --template my_template.json --text
    """
    try:
        if threads is not None:
            _core.set_num_threads(threads)
        tok = load_tokenizer(
            tokenizer_path, pattern=pattern, special_tokens=_parse_specials(special_tokens)
        )
        chosen: TemplateLike = template if template in TEMPLATES else Template.from_json(template)
        s = tokenize_files(
            list(inputs),
            outdir,
            tokenizer=tok,
            template=chosen,
            format=None if from_format == "auto" else from_format,
            column=column,
            ids=ids,
            text=text,
            add_special_tokens=add_special_tokens,
            on_error=cast(OnError, on_error),
            progress=not quiet,
            overwrite=overwrite,
        )
    except MmdedupError as e:
        raise click.ClickException(str(e)) from e
    if quiet:
        return
    for p in s.errors[:10]:
        click.echo(str(p), err=True)
    if len(s.errors) > 10:
        click.echo(f"... and {len(s.errors) - 10} more", err=True)
    rate = s.tokens / s.seconds if s.seconds > 0 else 0.0
    click.echo(
        f"{s.documents:,} documents, {s.tokens:,} tokens in {len(s.outputs)} file(s) in "
        f"{s.seconds:.1f} s ({rate:,.0f} tokens/s); {len(s.errors):,} rows with errors (left out)"
    )
