"""``mmdedup inspect``: an HTML report of what a run removed, with a precision estimate."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import MmdedupError

__all__ = ["inspect_cmd"]


@click.command("inspect")
@click.argument("outdir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the report [default: OUTDIR-report.html, beside OUTDIR].",
)
@click.option(
    "--sample",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="Removed documents (images) drawn at random and measured exactly against the kept "
    "member of their cluster, for the precision estimate and the similarity histogram.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random choice.")
@click.option(
    "--show",
    type=click.IntRange(min=0),
    default=4,
    show_default=True,
    help="Clusters shown of each kind: largest, random, nearest the threshold.",
)
@click.option(
    "--members",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Removed members shown per cluster, beside the kept one.",
)
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The run's --work-dir, if it was not OUTDIR/.mmdedup-work.",
)
@click.option(
    "--input",
    "inputs",
    multiple=True,
    help="The run's inputs (repeatable), if they moved or the run was started elsewhere.",
)
def inspect_cmd(
    outdir: Path,
    output: Path | None,
    sample: int,
    seed: int,
    show: int,
    members: int,
    work_dir: Path | None,
    inputs: tuple[str, ...],
) -> None:
    """Write an HTML report of the run in OUTDIR: what was removed, and whether it should be.

    OUTDIR is the output directory of `mmdedup dedup` (text shards, or interleaved documents)
    or of `mmdedup images`. The report is one self-contained HTML file (inline CSS and SVG,
    opens offline) with:

    \b
      summary     inputs, parameters, rows per status, removals per reason and per shard
      precision   SAMPLE removed members drawn at random, each measured exactly against
                  the kept member of its cluster: exact Jaccard of the run's shingle sets
                  (word 5-grams by default, normalized as the run did; interleaved
                  documents with their image tokens), or the Hamming distance of image
                  hashes. The share at or above the threshold, with a Wilson 95%
                  interval, and the share below it.
      plots       cluster sizes; similarity (distance) of the sampled pairs with the
                  threshold marked; removals per shard
      clusters    the largest clusters, random ones, and those nearest the threshold:
                  texts side by side with a word diff, documents with their images in
                  place, images as thumbnails with their size and Hamming distance; each
                  cluster (#cluster-N) and document (#doc-N) has an anchor and a block of
                  shard/row/id values to copy when reporting a wrong decision

    Only the columns needed are read from the results table, and only the sampled rows
    from the shards (Parquet row groups that hold them, JSON Lines streamed). The same
    --seed gives the same report. The shards are found through the run's work directory,
    else its inputs as summary.json lists them (relative to the current directory).

    \b
    Examples:
      mmdedup inspect out/                          # writes out-report.html
      mmdedup inspect out/ -o report.html --sample 1000 --seed 7
      mmdedup inspect img-out/ --show 10            # image clusters as thumbnails
      mmdedup inspect out/ --input /data/shards/    # the corpus moved since the run

    In Python: mmdedup.inspect("out/").save("report.html"), or the Report in a notebook;
    `from mmdedup.inspect import precision_estimate` gives the estimate alone.
    """
    from ..inspect import inspect

    target = output or outdir.absolute().parent / f"{outdir.absolute().name}-report.html"
    try:
        report = inspect(
            outdir,
            sample=sample,
            seed=seed,
            show=show,
            members=members,
            work_dir=work_dir,
            inputs=list(inputs) or None,
        )
        report.save(target)
    except (MmdedupError, OSError) as e:
        raise click.ClickException(str(e)) from e
    p = report.precision
    click.echo(f"report in {target} ({len(report.clusters)} clusters shown)")
    if p.precision is not None and p.ci95 is not None:
        click.echo(
            f"precision {p.precision:.1%} (95% CI {p.ci95[0]:.1%}–{p.ci95[1]:.1%}): "
            f"{p.agreeing:,} of {p.pairs:,} sampled removals have {p.rule}"
        )
    elif p.note:
        click.echo(f"precision: {p.note}")
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
