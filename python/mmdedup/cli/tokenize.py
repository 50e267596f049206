"""``mmdedup tokenize``: LLM token counts (and ids) of every document of a corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import click

from .. import _core
from ..errors import MmdedupError, OnError, ParameterError
from ..formats import FORMATS
from ..runs.progress import Progress
from ..runs.tokenize import tokenize_files
from ..tokens import TEMPLATES, Template, TemplateLike, load_tokenizer
from . import options


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
    help="Directory for one Parquet file per input shard (same relative names): a local path or an fsspec URL (s3://bucket/out/).",
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
@options.on_error("the row is not counted; the summary lists it")
@click.option(
    "--memory",
    default="4GB",
    show_default=True,
    help="Memory budget of one unit of work (one shard): each shard is read, tokenized and "
    "written a piece of documents at a time within it. The results are the same.",
)
@options.threads
@options.overwrite
@options.resume("shards already tokenized are not read again")
@options.work_dir("the records of finished shards", remote=True)
@options.keep_work_dir
@options.engine(
    "Each shard is a task, the tokenizer loaded there from its file. Inputs, OUTDIR, the work "
    "directory and the tokenizer file must be on storage every node sees."
)
@options.quiet
@click.pass_context
def tokenize(
    ctx: click.Context,
    resume: bool,
    work_dir: Path | None,
    keep_work_dir: bool,
    inputs: tuple[str, ...],
    outdir: str,
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
    memory: str,
    threads: int | None,
    overwrite: bool,
    quiet: bool,
    engine: str,
    address: str | None,
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

    Rows that cannot be read are reported with file and row, and left out (--on-error).

    \b
    Examples:
      mmdedup tokenize obelics/*.parquet -o counts/ --tokenizer llama/tokenizer.json
      mmdedup tokenize mmc4/ -o counts/ --tokenizer tok.json --template openflamingo --ids
      mmdedup tokenize web/*.parquet -o counts/ --tokenizer cl100k_base.tiktoken --column text
      mmdedup tokenize pin/ -o out/ --tokenizer tok.json --template my_template.json --text
    """
    if column is not None:
        options.refuse(ctx, ["from_format", "template"], "to a --column of plain text")
    if engine != "ray":
        options.refuse(ctx, ["address"], "without --engine ray")
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
            progress=Progress(quiet=quiet),
            overwrite=overwrite,
            resume=resume,
            work_dir=work_dir,
            keep_work_dir=keep_work_dir,
            memory=memory,
            threads=threads,
            engine=cast(Any, engine),
            address=address,
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
    if line := options.work_dir_line({"work_dir": s.work_dir}):
        click.echo(line)
