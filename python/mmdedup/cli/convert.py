"""``mmdedup convert``: interleaved documents from one layout to another."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import click

from ..errors import MmdedupError, OnError
from ..formats import FORMATS
from ..runs.convert import convert_files
from ..runs.progress import Progress
from . import options


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "--to",
    "to",
    required=True,
    type=click.Choice(list(FORMATS)),
    help="Layout to write.",
)
@click.option(
    "-o",
    "--output",
    "outdir",
    required=True,
    help="Directory for the converted shards (same relative names): a local path or an fsspec URL (s3://bucket/out/).",
)
@click.option(
    "--format",
    "from_format",
    type=click.Choice(list(FORMATS)),
    default=None,
    help="Layout of the inputs (default: detected from each file's columns or keys).",
)
@options.on_error("the row is not written; the summary lists it")
@click.option(
    "--memory",
    default="4GB",
    show_default=True,
    help="Memory budget of one unit of work (one shard): each shard is read, converted and "
    "written a piece of documents at a time within it. The results are the same.",
)
@options.threads
@options.overwrite
@options.resume("shards already converted are not read again")
@options.work_dir("the records of finished shards", remote=True)
@options.keep_work_dir
@options.engine(
    "Each shard is a task; image files are copied by the driver. Inputs, OUTDIR and the work directory must be on "
    "storage every node sees."
)
@options.quiet
@click.pass_context
def convert(
    ctx: click.Context,
    inputs: tuple[str, ...],
    to: str,
    outdir: str,
    from_format: str | None,
    on_error: str,
    memory: str,
    threads: int | None,
    overwrite: bool,
    resume: bool,
    work_dir: Path | None,
    keep_work_dir: bool,
    quiet: bool,
    engine: str,
    address: str | None,
) -> None:
    """Convert interleaved image-text documents between layouts.

    \b
    Layouts:
      obelics     Parquet: images / texts lists, metadata, general_metadata
      mmc4        JSON Lines: text_list, image_info (matched_text_index)
      omnicorpus  Parquet: images / texts lists, per-image metadata structs
      pin         JSON Lines: md (markdown), content_image; image files beside
      wanjuan     JSON Lines: content (markdown), img_list
      infimm      Parquet: text_list / image_list

    Text and image order is kept. An MMC4 image is placed before the sentence it is matched
    to. Converting a file to its own layout gives the same data back. Other columns and keys
    are carried through; relative image files (PIN content_image/) are copied along.

    \b
    Examples:
      mmdedup convert obelics/*.parquet --to mmc4 -o mmc4/
      mmdedup convert pin/part00/part00.jsonl --to obelics -o out/
      mmdedup convert data/ --format wanjuan --to pin -o pin/
    """
    if engine != "ray":
        options.refuse(ctx, ["address"], "without --engine ray")
    try:
        s = convert_files(
            list(inputs),
            outdir,
            to=to,
            format=from_format,
            on_error=cast(OnError, on_error),
            overwrite=overwrite,
            resume=resume,
            work_dir=work_dir,
            keep_work_dir=keep_work_dir,
            memory=memory,
            threads=threads,
            progress=Progress(quiet=quiet),
            engine=cast(Any, engine),
            address=address,
        )
    except MmdedupError as e:
        raise click.ClickException(str(e)) from e
    if quiet:
        return
    problems = s.errors + s.repairs + s.warnings
    for p in problems[:10]:
        click.echo(str(p), err=True)
    if len(problems) > 10:
        click.echo(f"... and {len(problems) - 10} more", err=True)
    click.echo(
        f"{s.documents_in:,} documents in, {s.documents_out:,} out ({to}) in {len(s.outputs)} "
        f"file(s); {len(s.errors):,} rows with errors (left out), {len(s.repairs):,} repairs, "
        f"{len(s.warnings):,} with images inside code, {s.images_copied:,} image files copied"
    )
    for output, why in s.keys_in_extra:
        click.echo(f"{output}: the source's keys are in the JSON column `extra` ({why})", err=True)
    if line := options.work_dir_line({"work_dir": s.work_dir}):
        click.echo(line)
