"""``mmdedup convert``: interleaved documents from one layout to another."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import click

from .errors import MmdedupError
from .formats import FORMATS, read_documents, write_documents
from .formats.files import OnError
from .formats.markdown_layouts import MarkdownLayout
from .formats.model import Problem
from .io import discover
from .runs.copies import copy_images, image_copies
from .runs.dirs import open_run

__all__ = ["ConvertSummary", "convert", "convert_files"]


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
    """

    documents_in: int = 0
    documents_out: int = 0
    errors: list[Problem] = field(default_factory=list)
    repairs: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    images_copied: int = 0
    outputs: list[Path] = field(default_factory=list)


def _output_name(name: str, container: str) -> str:
    stem = name
    for suffix in (".gz", ".parquet", ".pq", ".jsonl", ".ndjson", ".json"):
        stem = stem.removesuffix(suffix)
    gz = ".gz" if name.endswith(".gz") and container == "jsonl" else ""
    return f"{stem}.{container}{gz}"


def convert_files(
    inputs: list[str],
    outdir: Path,
    *,
    to: str,
    format: str | None = None,
    on_error: OnError = "skip",
    overwrite: bool = False,
) -> ConvertSummary:
    """Converts shards to layout ``to`` under ``outdir``, keeping their relative names.

    Image files named by a relative path (PIN's ``content_image/...``) are copied along, so the
    paths in the output stay valid. ``outdir`` may not hold or lie in an input; holding an
    earlier conversion, it is refused unless ``overwrite``, which removes that conversion's files.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.jsonl").write_text('{"content": "Hi ![](http://x/y.png)", '
    ...     '"img_list": [{"url": "http://x/y.png"}]}\\n')
    >>> s = convert_files([str(d / "a.jsonl")], d / "out", to="obelics")
    >>> s.documents_out, [p.name for p in s.outputs]
    (1, ['a.parquet'])
    """
    layout = FORMATS[to]
    summary = ConvertSummary()
    shards = discover(inputs)
    names = [_output_name(shard.name, layout.container) for shard in shards]
    with open_run(
        outdir, inputs=inputs, shards=[str(s.path) for s in shards], overwrite=overwrite
    ) as run:
        run.declare(names)
        for shard, name in zip(shards, names, strict=True):
            docs = read_documents(shard, format=format, on_error=on_error)
            target = outdir / name
            summary.documents_in += docs.table.num_rows + len(docs.errors)
            summary.documents_out += write_documents(docs.table, target, format=to)
            summary.errors += docs.errors
            summary.repairs += docs.repairs
            summary.outputs.append(target)
            if shard.path.is_local:
                pairs = image_copies(docs.table, shard.path.local().parent, target.parent)
                run.declare(dst.relative_to(outdir).as_posix() for _, dst in pairs)
                summary.images_copied += copy_images(pairs)
            if isinstance(layout, MarkdownLayout):
                for row, segs in enumerate(docs.table.column("segments").to_pylist()):
                    if lost := layout.lost_images(segs or []):
                        msg = f"{lost} image(s) land inside a code block of the markdown: read as code"
                        summary.warnings.append(Problem(str(target), row, msg))
    return summary


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
    type=click.Path(path_type=Path),
    help="Directory for the converted shards (same relative names).",
)
@click.option(
    "--format",
    "from_format",
    type=click.Choice(list(FORMATS)),
    default=None,
    help="Layout of the inputs (default: detected from each file's columns or keys).",
)
@click.option(
    "--on-error",
    type=click.Choice(["skip", "raise"]),
    default="skip",
    show_default=True,
    help="A row that cannot be read: leave it out and report it, or stop.",
)
@click.option("--overwrite", is_flag=True, help="Replace the results of an earlier run in OUTDIR.")
@click.option("-q", "--quiet", is_flag=True, help="No summary.")
def convert(
    inputs: tuple[str, ...],
    to: str,
    outdir: Path,
    from_format: str | None,
    on_error: str,
    overwrite: bool,
    quiet: bool,
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
    try:
        s = convert_files(
            list(inputs),
            outdir,
            to=to,
            format=from_format,
            on_error=cast(OnError, on_error),
            overwrite=overwrite,
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
