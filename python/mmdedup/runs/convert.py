"""Interleaved documents from one layout to another, shard by shard."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import OnError, on_error_mode
from ..formats import FORMATS, read_documents, write_documents
from ..formats.markdown_layouts import MarkdownLayout
from ..formats.model import Problem
from ..io import discover
from ..runs.copies import copy_images, image_copies
from ..runs.dirs import open_run


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
            docs = read_documents(shard, format=format, on_error=on_error_mode(on_error))
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
