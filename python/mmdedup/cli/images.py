"""``mmdedup images``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import click

from ..runs.api import images_files
from ..runs.images.plan import BATCH
from ..runs.progress import Progress
from . import fail_if_nothing_read, options


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "-o",
    "--output",
    "outdir",
    required=True,
    help="Directory for clusters.parquet and summary.json: a local path or an fsspec URL "
    "(s3://bucket/out/).",
)
@click.option(
    "-m",
    "--method",
    default="phash",
    show_default=True,
    type=click.Choice(
        ["phash", "dhash", "dhash_vertical", "ahash", "whash", "phash_simple", "pdq"]
    ),
    help="Perceptual hash. Near-duplicate search takes 64-bit hashes (hash size 8) and PDQ's "
    "256 bits.",
)
@click.option(
    "--hash-size",
    type=click.IntRange(2, 64),
    default=8,
    show_default=True,
    help="Hash side: bits = size².",
)
@click.option(
    "--mode",
    type=click.Choice(["canonical", "compatible"]),
    default="canonical",
    show_default=True,
    help="canonical: EXIF orientation, alpha over mid-gray, 16-bit scaled; compatible: "
    "bit-identical to ImageHash 4.3 on Pillow.",
)
@click.option(
    "-k",
    "--max-distance",
    type=click.IntRange(0, 256),
    default=None,
    help="Largest Hamming distance between near-duplicates [default: 8; 31 for PDQ, Meta's "
    "match threshold] (MMC4 used 5 on pHash).",
)
@click.option(
    "--keep",
    "keep_rule",
    type=click.Choice(["largest", "first"]),
    default="largest",
    show_default=True,
    help="Which image of a cluster stays: the one with most pixels "
    "(ties: first), or the first in input order.",
)
@click.option(
    "-c",
    "--column",
    default=None,
    help="Image bytes column of Parquet inputs (default: "
    "image, jpg, png, webp, bytes, or the only binary column).",
)
@click.option(
    "--pixel-limit",
    type=click.IntRange(1),
    default=None,
    help="Refuse images with more pixels (decompression bombs).",
)
@click.option(
    "--frames",
    type=click.Choice(["first", "all"]),
    default="first",
    show_default=True,
    help="Animations (GIF, WebP, APNG): hash the first frame, or every frame; with 'all', two "
    "images are near-duplicates when any frame of one is near any frame of the other.",
)
@click.option(
    "--max-frames",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="With --frames all: frames hashed per animation; longer ones are flagged "
    "(frames_truncated in clusters.parquet) and counted in a warning.",
)
@click.option(
    "--crops",
    is_flag=True,
    help="Also find crops: two images are near-duplicates too when at least --min-regions of "
    "the region hashes of each (hashes of its bright and dark regions, which a crop keeps) lie "
    "within --max-distance of the other's. Adds the columns regions and region_count. "
    "Searched in memory: about 192 bytes per region hash (at most 32 per image, 2 to 6 in "
    "the benchmarks) on top of the whole-image search; a run that would exceed --memory stops "
    "before the search (--resume with more --memory goes on).",
)
@click.option(
    "--min-regions",
    type=click.IntRange(1),
    default=2,
    show_default=True,
    help="With --crops: region hashes of each image that must match the other's (1 finds "
    "more crops, and many more false pairs).",
)
@click.option(
    "--region-method",
    type=click.Choice(["ahash", "dhash", "dhash_vertical", "phash", "phash_simple", "whash"]),
    default="phash",
    show_default=True,
    help="With --crops: the hash of each region (of --hash-size). aHash finds more crops of "
    "smooth pictures, and joins unrelated busy ones.",
)
@options.threads
@options.overwrite
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted run (same inputs and options): batches of images already "
    "hashed are not read again; the results are identical to an uninterrupted run.",
)
@options.work_dir("the hashes of each batch", remote=True)
@options.keep_work_dir
@options.engine(
    "Each task hashes a batch of image files, a row group of a Parquet file or a tar shard; the "
    "work directory, OUTDIR and the inputs must be on storage every node sees."
)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=BATCH,
    show_default=True,
    help="Images per unit of work: image files, rows of a Parquet row group, tar members.",
)
@click.option(
    "--memory",
    default="4GB",
    show_default=True,
    help="Memory budget: of the images decoded at the same time (larger images wait), and of "
    "the clusters stage: when the hashes and per-row data would not fit, "
    "the search runs over on-disk partitions and the clusters and counts come from edge files "
    "(64-bit hashes; PDQ, --frames all and --crops are searched in memory). The results are the "
    "same.",
)
@options.quiet
@click.pass_context
def images(
    ctx: click.Context,
    inputs: tuple[str, ...],
    outdir: str,
    keep_work_dir: bool,
    method: str,
    hash_size: int,
    mode: str,
    max_distance: int | None,
    keep_rule: str,
    column: str | None,
    pixel_limit: int | None,
    frames: str,
    max_frames: int,
    threads: int | None,
    overwrite: bool,
    resume: bool,
    work_dir: str | Path | None,
    batch_size: int,
    memory: str,
    quiet: bool,
    crops: bool,
    min_regions: int,
    region_method: str,
    engine: str,
    address: str | None,
) -> None:
    """Hash images and find their near-duplicates.

    INPUT is an image file (JPEG, PNG, WebP, GIF, BMP, TIFF), a Parquet file with an image bytes
    column (img2dataset, Hugging Face), a webdataset .tar shard, a directory (searched
    recursively) or a glob pattern: a local path or an fsspec URL (s3://bucket/photos/).
    OUTDIR receives:

    \b
      clusters.parquet  one row per image: shard, row, key, width, height, hash (uint64 for
                        64-bit hashes; the first frame's), [quality], [frames], count
                        (images within --max-distance, itself included), [regions,
                        region_count] (--crops: region hashes of the image, images sharing
                        --min-regions of them, itself included), cluster, keep, status, error
      summary.json      counts, parameters, how the search ran, time per stage

    Images that cannot be decoded get status 'error' with the reason, and are kept.

    Images are hashed in batches (--batch-size image files, Parquet rows or tar members), each
    saved to the work directory as it finishes: after an interruption (Ctrl-C,
    kill -9, a full disk), the same command with --resume hashes only the batches not done.

    When the hashes and per-row data would not fit --memory, the near-duplicate search runs
    over on-disk partitions and the clusters and counts come from edge files: the same
    clusters.parquet, byte for byte.

    \b
    Examples:
      mmdedup images photos/ -o out/
      mmdedup images 'shards/*.parquet' -o out/ --column jpg -k 5
      mmdedup images data/*.tar -o out/ --method dhash --keep first
      mmdedup images data/*.tar -o out/ --method dhash --keep first --resume
      mmdedup images 'shards/*.parquet' -o out/ --memory 2GB
      mmdedup images stickers/ -o out/ --frames all
      mmdedup images photos/ -o out/ --crops
      mmdedup images 'shards/*.parquet' -o out/ --engine ray
      mmdedup images s3://bucket/photos/ -o s3://bucket/out/
    """
    if frames != "all":
        options.refuse(ctx, ["max_frames"], "without --frames all")
    if method == "pdq":
        options.refuse(ctx, ["hash_size"], "to PDQ (always 256 bits)")
        options.refuse(ctx, ["crops"], "to PDQ (region hashes are 64-bit, within one -k)")
    if frames == "all":
        options.refuse(ctx, ["crops"], "with --frames all (regions of first frames only)")
    if not crops:
        options.refuse(ctx, ["min_regions", "region_method"], "without --crops")
    if engine != "ray":
        options.refuse(ctx, ["address"], "without --engine ray")
    summary = images_files(
        inputs,
        outdir,
        method=method,
        hash_size=hash_size,
        mode=mode,
        max_distance=max_distance,
        keep=keep_rule,
        column=column,
        pixel_limit=pixel_limit,
        frames=frames,
        max_frames=max_frames,
        threads=threads,
        overwrite=overwrite,
        resume=resume,
        work_dir=work_dir,
        batch_size=batch_size,
        memory=memory,
        progress=Progress(quiet=quiet),
        keep_work_dir=keep_work_dir,
        crops=crops,
        min_regions=min_regions,
        region_method=region_method,
        engine=cast(Any, engine),
        address=address,
    )
    if not quiet:
        c = summary["counts"]
        click.echo(
            f"{c['images']:,} images: kept {c['kept']:,}, removed {c['removed']:,} near-duplicates "
            f"in {c['clusters']:,} clusters, {c['errors']:,} errors, in {summary['seconds']['total']:.1f} s"
        )
        if crops:
            r = summary["search"]
            click.echo(
                f"--crops: {r['regions']:,} region hashes, {r['region_pairs']:,} pairs of images "
                f"matched by them ({r['region_only_pairs']:,} not by their whole-image hashes)"
            )
        if line := options.work_dir_line(summary):
            click.echo(line)
    c = summary["counts"]
    fail_if_nothing_read(c["images"], c["errors"], "images", str(outdir))
