"""``mmdedup dedup``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import click

from ..dedup import (
    DedupConfig,
    Method,
    Verify,
)
from ..runs.api import dedup_files
from ..runs.interleaved.config import MultimodalConfig, is_interleaved
from ..runs.progress import Progress
from ..text import Tokenizer
from . import fail_if_nothing_read, options


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "-o",
    "--output",
    "outdir",
    required=True,
    help="Directory for the deduplicated shards, clusters.parquet and summary.json: a local "
    "path or an fsspec URL (s3://bucket/out/).",
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
    help="LSH bands (with --rows); default: with --verify jaccard, the geometry that misses a "
    "pair at --threshold with probability at most 0.001 and otherwise the fewest candidates "
    "(18 x 5 at 0.8); with --verify signature or none, datasketch's optimum (9 x 13 at 0.8).",
)
@click.option(
    "--rows", type=click.IntRange(1), default=None, help="LSH rows per band (with --bands)."
)
@click.option(
    "--verify",
    type=click.Choice(["signature", "jaccard", "none"]),
    default=None,
    help="Check each candidate pair before it joins a cluster: by the exact Jaccard of the "
    "shingle sets (kept on disk by the signatures stage, read back within --memory), by "
    "signature agreement (MinHash estimate; for simhash the Hamming distance alone), or not "
    "at all. Default: jaccard for minhash (with bands chosen for recall), signature for "
    "simhash. With simhash, jaccard keeps the pairs within --max-distance whose Jaccard "
    "reaches --threshold. --verify signature gives the earlier default (datasketch's "
    "bands, MinHash estimate).",
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
@click.option(
    "--seed", type=click.IntRange(0, 2**64 - 1), default=1, show_default=True, help="MinHash seed."
)
@click.option(
    "--no-normalize",
    is_flag=True,
    help="Hash texts as they are (no NFKC, case or punctuation folding).",
)
@click.option("--fold-digits", is_flag=True, help="Treat all digits as equal.")
@click.option("--strip-accents", is_flag=True, help="Treat accented letters as unaccented.")
@options.on_error(
    "status 'error' in clusters.parquet, the row kept untouched; an interleaved row is not written"
)
@options.threads
@options.overwrite
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted run (same inputs and options) from its last finished shard "
    "or partition; the results are identical to an uninterrupted run.",
)
@click.option(
    "--memory",
    default="4GB",
    show_default=True,
    help="Memory budget of one unit of work: sets the on-disk partitions of the candidate "
    "stage, how much of a shard is read at a time, and where connected components run "
    "(--components auto).",
)
@click.option(
    "--components",
    type=click.Choice(["auto", "local", "distributed"]),
    default="auto",
    show_default=True,
    help="Connected components of the duplicate pairs: union-find on one node (local, about "
    "48 bytes per document), or large-star/small-star rounds over edge files partitioned by "
    "document, as tasks of the engine (distributed); auto picks distributed when union-find "
    "would not fit --memory. The results are the same.",
)
@options.work_dir("the intermediate files", remote=True)
@options.keep_work_dir
@options.engine(
    "The work directory must be on storage every node sees: a shared file system, or an object "
    "store URL given to --work-dir."
)
@click.option(
    "--index",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=None,
    help="OUTDIR of an earlier run: remove documents that duplicate one of its documents, "
    "reusing its signatures (incremental dedup). This run's OUTDIR can be the next --index.",
)
@click.option(
    "--format",
    "layout",
    type=click.Choice(["obelics", "mmc4", "omnicorpus", "pin", "wanjuan", "infimm"]),
    default=None,
    help="[interleaved] Layout of interleaved image-text inputs (default: detected when the "
    "--column is absent and the files have a known layout).",
)
@click.option(
    "--paragraphs",
    type=click.Choice(["corpus", "domain", "off"]),
    default="corpus",
    show_default=True,
    help="[interleaved] Remove a paragraph seen before (exact, after normalization) anywhere in "
    "the corpus, or within the same web domain.",
)
@click.option(
    "--image-key",
    type=click.Choice(["url", "bytes", "phash"]),
    default="url",
    show_default=True,
    help="[interleaved] What makes two images the same: URL (or path), exact bytes, or pHash "
    "(within --image-distance bits).",
)
@click.option(
    "--image-distance",
    type=click.IntRange(0, 32),
    default=0,
    show_default=True,
    help="[interleaved] Largest pHash distance between the same image (--image-key phash).",
)
@click.option(
    "--image-frequency",
    type=click.IntRange(0),
    default=10,
    show_default=True,
    help="[interleaved] Remove images found in more than this many documents (0: keep all).",
)
@click.option(
    "--image-weight",
    type=click.IntRange(0),
    default=8,
    show_default=True,
    help="[interleaved] Set tokens each image adds to its document's MinHash set.",
)
@click.option(
    "--repeated-images/--keep-repeated-images",
    default=True,
    show_default=True,
    help="[interleaved] Remove later copies of an image within one document.",
)
@click.option(
    "--identical-images/--no-identical-images",
    default=True,
    show_default=True,
    help="[interleaved] Keep one (by --keep) of the documents with the same image set.",
)
@click.option(
    "--near-duplicates/--no-near-duplicates",
    default=True,
    show_default=True,
    help="[interleaved] Remove near-duplicate documents (text shingles plus images).",
)
@click.option(
    "--markdown",
    type=click.Choice(["auto", "strip", "keep"]),
    default="auto",
    show_default=True,
    help="[interleaved] Strip markdown markup before hashing text: auto does it for PIN and "
    "WanJuan.",
)
@click.option(
    "--images",
    "images_table",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="[interleaved] Parquet of url and bytes (img2dataset style) holding the images, for "
    "--image-key bytes or phash.",
)
@click.option(
    "--image-root",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=None,
    help="[interleaved] Directory relative image paths are read from (default: the shard's).",
)
@options.quiet
@click.pass_context
def dedup(
    ctx: click.Context,
    inputs: tuple[str, ...],
    outdir: str,
    column: str,
    id_column: str | None,
    method: str,
    threshold: float,
    num_perm: int,
    ngram: int,
    tokenizer: str,
    bands: int | None,
    rows: int | None,
    verify: str | None,
    max_distance: int,
    keep_rule: str,
    seed: int,
    no_normalize: bool,
    fold_digits: bool,
    strip_accents: bool,
    on_error: str,
    threads: int | None,
    overwrite: bool,
    resume: bool,
    memory: str,
    components: str,
    work_dir: Path | None,
    engine: str,
    address: str | None,
    keep_work_dir: bool,
    index: Path | None,
    layout: str | None,
    paragraphs: str,
    image_key: str,
    image_distance: int,
    image_frequency: int,
    image_weight: int,
    repeated_images: bool,
    identical_images: bool,
    near_duplicates: bool,
    markdown: str,
    images_table: Path | None,
    image_root: Path | None,
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

    Interleaved image-text documents (OBELICS, MMC4, OmniCorpus, PIN, WanJuan, InfiMM; the
    options marked [interleaved]) get the multimodal rules, each one switchable: repeated
    images within a document, images in more than --image-frequency documents, documents with
    identical image sets, near-duplicate documents over text shingles plus image tokens, and
    repeated paragraphs. OUTDIR then receives the shards in their own layout, and
    documents.parquet (one row per input row), removals.parquet (each removed document, image
    and paragraph with its reason), problems.parquet (unreadable rows and images) and
    summary.json.

    \b
    Examples:
      mmdedup dedup data/*.parquet -o out/
      mmdedup dedup crawl/ -o out/ --method exact --id-column url
      mmdedup dedup docs.jsonl -o out/ -t 0.7 --ngram 3 --keep longest
      mmdedup dedup zh/*.parquet -o out/ --tokenizer char --ngram 5 --keep max:score
      mmdedup dedup s3://b/crawl/ -o s3://b/out/ --work-dir s3://b/work/ --engine ray
      mmdedup dedup obelics/*.parquet -o out/ --image-frequency 10 --paragraphs domain
      mmdedup dedup mmc4/ -o out/ --image-key bytes --images images.parquet --keep max:date
    """
    plain = layout is None and (index is not None or not is_interleaved(list(inputs), column))
    _refuse_inapplicable(ctx, method, plain, column, engine, image_key, verify)
    text = DedupConfig(
        method=cast(Method, method),
        threshold=threshold,
        num_perm=num_perm,
        ngram=ngram,
        tokenizer=cast(Tokenizer, tokenizer),
        bands=bands,
        rows=rows,
        verify=cast(Verify | None, verify),
        max_distance=max_distance,
        seed=seed,
        normalize=not no_normalize,
        fold_digits=fold_digits,
        strip_accents=strip_accents,
    )
    config: DedupConfig | MultimodalConfig = text
    if not plain:
        config = MultimodalConfig(
            text=text,
            near_duplicates=near_duplicates,
            image_weight=image_weight,
            image_key=cast(Any, image_key),
            image_distance=image_distance,
            image_frequency=image_frequency,
            repeated_images=repeated_images,
            identical_images=identical_images,
            paragraphs=cast(Any, paragraphs),
            markdown=cast(Any, markdown),
            keep=keep_rule,
            format=layout,
        )
    summary = dedup_files(
        inputs,
        outdir,
        config=config,
        column=column,
        id_column=id_column,
        keep=keep_rule,
        on_error=cast(Any, on_error),
        threads=threads,
        memory=memory,
        work_dir=work_dir,
        resume=resume,
        overwrite=overwrite,
        components=components,
        engine=cast(Any, engine),
        address=address,
        index=index,
        images=images_table,
        image_root=image_root,
        progress=Progress(quiet=quiet),
        keep_work_dir=keep_work_dir,
    )
    if not quiet:
        (_print_summary if plain else _print_interleaved)(summary, outdir)
        if line := options.work_dir_line(summary):
            click.echo(line)
    if plain:
        c = summary["counts"]
        fail_if_nothing_read(c["documents"], summary["status"]["error"], "documents", outdir)
    else:
        d = summary["documents"]
        fail_if_nothing_read(d["in"], d["errors"], "documents", outdir)


_SHINGLES = ["ngram", "tokenizer"]
_MINHASH = ["threshold", "num_perm", "bands", "rows", "verify", "seed"]


def _refuse_inapplicable(
    ctx: click.Context,
    method: str,
    plain: bool,
    column: str,
    engine: str,
    image_key: str,
    verify: str | None,
) -> None:
    """Every option given must apply to this run: one that would be ignored is an error."""
    if plain:
        options.refuse(
            ctx,
            options.marked(ctx, "[interleaved]"),
            f"to plain text shards (column {column!r}); the interleaved rules apply to "
            "documents of a layout (--format, or detected when the --column is absent)",
        )
    else:
        options.refuse(ctx, ["id_column"], "to interleaved documents (they are named by doc_id)")
        options.refuse(
            ctx, ["column"], "to interleaved documents (their layout says where the text is)"
        )
        if image_key != "phash":
            options.refuse(ctx, ["image_distance"], "unless --image-key phash")
        if image_key == "url":
            options.refuse(ctx, ["images_table"], "with --image-key url (no image bytes are read)")
    if method == "exact":
        options.refuse(
            ctx,
            [*_SHINGLES, *_MINHASH, "max_distance"],
            "with --method exact (documents are duplicates when their normalized texts are equal)",
        )
    elif method == "minhash":
        options.refuse(ctx, ["max_distance"], "with --method minhash (use --threshold)")
    else:
        options.refuse(
            ctx,
            ["num_perm", "bands", "rows", "seed"],
            "with --method simhash (use --max-distance)",
        )
        if verify != "jaccard":
            options.refuse(
                ctx, ["threshold"], "with --method simhash unless --verify jaccard checks it"
            )
    if engine != "ray":
        options.refuse(ctx, ["address"], "without --engine ray")


def _print_summary(s: dict[str, Any], outdir: str) -> None:
    c: dict[str, int] = s["counts"]
    st: dict[str, int] = s["status"]
    click.echo(
        f"{c['documents']:,} documents in {len(s['shards'])} shard(s): kept {c['kept']:,}, "
        f"removed {c['removed']:,} duplicates in {c['clusters']:,} clusters "
        f"({st['empty']:,} empty, {st['error']:,} errors) in {s['seconds']['total']:.1f} s"
    )
    click.echo(f"results in {outdir.rstrip('/')}/ (clusters.parquet, summary.json)")


def _print_interleaved(s: dict[str, Any], outdir: str) -> None:
    d, im, p = s["documents"], s["images"], s["paragraphs"]
    gone = d["removed"]
    click.echo(
        f"{d['in']:,} documents ({', '.join(s['formats'])}): kept {d['kept']:,}, removed "
        f"{gone['near_duplicate']:,} near-duplicates and {gone['identical_images']:,} with "
        f"identical images; {d['errors']:,} unreadable rows"
    )
    click.echo(
        f"images: {im['in']:,}, removed {im['removed']['frequent_image']:,} frequent and "
        f"{im['removed']['repeated_image']:,} repeated ({im['errors']:,} unreadable); "
        f"paragraphs: {p['in']:,}, removed {p['removed']:,} duplicates; "
        f"{s['seconds']['total']:.1f} s"
    )
    click.echo(
        f"results in {outdir.rstrip('/')}/ (documents.parquet, removals.parquet, "
        "problems.parquet, summary.json)"
    )
