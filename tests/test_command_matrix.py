"""Every corpus command × every shared run option, run end to end through the command line.

The five corpus runs are ``mmdedup dedup`` on text (T), ``mmdedup dedup`` on interleaved
documents (I), ``mmdedup images`` (M), ``mmdedup convert`` (C) and ``mmdedup tokenize`` (K). Each
takes ``--resume``, ``--memory``, ``--work-dir`` and ``--keep-work-dir``, ``--overwrite``,
``--threads``, ``--engine ray`` (with ``--address``) and fsspec URLs. Which test covers each
cell (``here``: this module; the other names are in the legend below)::

    cell                                    T       I       M       C       K
    every shared option reaches the run     here    here    here    here    here
    resume after a completed run            here    here    here    here    here
    resume after a kill, byte-identical     P1      MM1     IR1     CV1     CV1
    --memory: the default's bytes           P2      here    IR2     SM1     SM2
    --engine ray: the local engine's bytes  P3      MM2     IR3     TK1     TK1
    fsspec inputs                           P4      here    IRI1    here    here
    fsspec OUTDIR                           P4      RW1     RW2     RW3     RW3
    earlier results refused, fsspec OUTDIR  here    here    RW2     RW3     RW3
    fsspec work directory                   RW4     RW5     RW6     RW7     RW7
    earlier results refused (--overwrite)   SF1     SF1     SF1     SF1     SF1
    no OUTDIR in or inside an input dir     SF2     SF2     SF2     SF2     SF2
    ... an input directory on fsspec        here    here    IRI2    here    here
    --work-dir, --keep-work-dir             CO1     here    CO1     here    here
    foreign or input --work-dir refused     SF3     SF3+here SF3    here    here
    --threads 1 and 2: the same bytes       RA1     here    CR1     here    here

The fsspec cells here use the ``memory://`` file system (this process's: the
command line runs in it through ``CliRunner``), which goes through the same code as ``s3://``;
``test_remote_workdir`` runs OUTDIRs and work directories on an S3 server, and text inputs there
under a Ray cluster. Images also refuse ``--resume`` of a finished run in
test_image_frames.py::test_cli_frames_all. Every Ray cell has its test already, so this module
starts no Ray; that ``--engine`` and ``--address`` reach each run is checked here.

Legend::

    P1  test_pipeline.py::test_kill_and_resume_is_byte_identical
    P2  test_pipeline.py::test_partitions_do_not_change_results
    P3  test_pipeline.py::test_ray_engine_matches_local
    P4  test_pipeline.py::test_fsspec_urls_in_and_out
    MM1 test_multimodal.py::test_resume_after_a_crash_gives_the_same_results (and, bytes of
        PIN shards and their image files, test_remote_workdir.py::
        test_interleaved_remote_work_dir_resumes_after_kill)
    MM2 test_multimodal.py::test_ray_engine_matches_local
    IR1 test_images_resume.py::test_kill_and_resume_is_byte_identical
    IR2 test_images_resume.py::test_on_disk_search_resumes_byte_identical
    IR3 test_images_resume.py::test_ray_engine_matches_local
    CV1 test_conventions.py::test_shard_wise_commands_resume_after_a_kill
    CO1 test_conventions.py::test_the_work_directory_is_removed_on_success_unless_kept
    SM1 test_shardwise_memory.py::test_convert_in_pieces_gives_the_same_files
    SM2 test_shardwise_memory.py::test_tokenize_in_pieces_gives_the_same_files
    TK1 test_tokens.py::test_tokenize_and_convert_as_ray_tasks
    RW1 test_remote_workdir.py::test_interleaved_outdir_on_s3
    RW2 test_remote_workdir.py::test_images_outdir_on_s3
    RW3 test_remote_workdir.py::test_convert_and_tokenize_to_a_remote_outdir
    RW4 test_remote_workdir.py::test_remote_work_dir_equals_local (and the Ray cluster:
        test_ray_cluster_with_work_dir_on_s3)
    RW5 test_remote_workdir.py::test_interleaved_remote_work_dir_equals_local
    RW6 test_remote_workdir.py::test_images_with_a_remote_work_dir_equals_local
    RW7 test_remote_workdir.py::test_convert_and_tokenize_with_a_remote_work_dir
    SF1 test_safety.py::test_overwrite_replaces_exactly_the_earlier_results
    SF2 test_safety.py::test_output_into_an_input_directory_is_refused
    SF3 test_safety.py::test_work_dir_that_mmdedup_did_not_make_is_never_emptied
    RA1 test_runs_api.py::test_two_threads_write_the_same_bytes_as_one
    CR1 test_images_crops.py::test_threads_do_not_change_the_results
    IRI1 test_images_remote_inputs.py::test_a_prefix_gives_the_local_results
    IRI2 test_images_remote_inputs.py::
        test_missing_urls_and_outputs_inside_an_input_prefix_are_refused
"""

from __future__ import annotations

import base64
import importlib
import io
import json
import random
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from conftest import edit, random_doc
from mmdedup.cli import main
from mmdedup.formats import read_documents
from PIL import Image
from test_multimodal import corpus as pages
from test_multimodal import write_obelics, write_pin_with_pictures

KINDS = ["text", "interleaved", "images", "convert", "tokenize"]
# Image inputs on fsspec URLs have their tests in test_images_remote_inputs (on S3).
NOT_IMAGES = [k for k in KINDS if k != "images"]


# -------------------------------------------------------------------------------------------
# Small corpora, one per kind of input, made once: no test writes into them.


def _text(src: Path) -> None:
    """Two shards (Parquet and JSON Lines) with near-duplicates within and across them."""
    rng = random.Random(7)
    base = [random_doc(rng, 60) for _ in range(40)]
    docs = base + [edit(rng, d, 1) for d in base[:10]]
    src.mkdir()
    pq.write_table(pa.table({"text": docs[::2]}), src / "a.parquet")
    (src / "b.jsonl").write_text("".join(json.dumps({"text": d}) + "\n" for d in docs[1::2]))


def _pin(src: Path, scratch: Path) -> None:
    """The pages of ``test_multimodal`` (built to trigger each interleaved rule) as two PIN
    shards, every page also showing a picture kept beside it (``content_image/...``)."""
    table = read_documents(write_obelics(scratch / "web.parquet", pages())).table
    write_pin_with_pictures(table, src)


def _photos(src: Path) -> None:
    """Image files, one a smaller copy of another, and a Parquet shard of two row groups."""
    src.mkdir()
    rng = np.random.default_rng(5)
    pics = []
    for i in range(4):
        small = rng.integers(0, 256, size=(5, 6, 3), dtype=np.uint8)
        pic = Image.fromarray(small).resize((80, 64), Image.Resampling.BILINEAR)
        pic.save(src / f"p{i}.png")
        pics.append(pic)
    pics[3].resize((40, 32)).save(src / "p3-small.png")
    blobs = []
    for p in pics:
        buf = io.BytesIO()
        p.save(buf, "JPEG", quality=85)
        blobs.append(buf.getvalue())
    table = pa.table({"key": [f"r{i}" for i in range(4)], "jpg": blobs})
    pq.write_table(table, src / "shard.parquet", row_group_size=2)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("matrix")
    _text(root / "text")
    _pin(root / "pin", root)
    _photos(root / "photos")
    ranks = root / "cl100k_base.tiktoken"  # every byte a token, cl100k's split pattern
    ranks.write_text("".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256)))
    return {
        "text": root / "text",
        "interleaved": root / "pin",
        "images": root / "photos",
        "convert": root / "pin",
        "tokenize": root / "pin",
        "ranks": ranks,
    }


def command(kind: str, sources: dict[str, Path], src: str | Path | None = None) -> list[str]:
    """The command line of ``kind`` over its corpus (or ``src``), without -o."""
    given = str(src if src is not None else sources[kind])
    return {
        "text": ["dedup", given],
        "interleaved": ["dedup", given],
        "images": ["images", given],
        "convert": ["convert", given, "--to", "obelics"],
        "tokenize": ["tokenize", given, "--tokenizer", str(sources["ranks"])],
    }[kind]


def run(*args: str | Path) -> Result:
    """The command line, in this process (so that it sees this process's ``memory://``)."""
    return CliRunner().invoke(main, [str(a) for a in args])


def ok(r: Result) -> Result:
    assert r.exit_code == 0, (r.output, r.exception)
    return r


def refused(r: Result, *words: str) -> None:
    assert r.exit_code == 1, (r.exit_code, r.output, r.exception)
    assert "Traceback" not in r.output, r.output
    for w in words:
        assert w in r.output, r.output


def _result(name: str) -> bool:
    """Whether a file is a result: not mmdedup's bookkeeping, work directory or timed summary."""
    return name != "summary.json" and not any(p.startswith(".mmdedup") for p in name.split("/"))


def tree(root: Path) -> dict[str, bytes]:
    """The results under a local OUTDIR, with their bytes."""
    return {
        rel: p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and _result(rel := p.relative_to(root).as_posix())
    }


def everything(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def mem() -> Iterator[tuple[Any, str]]:
    """The ``memory://`` file system and a folder of this test's on it, removed afterwards."""
    import fsspec

    fs = fsspec.filesystem("memory")
    root = f"/matrix-{uuid.uuid4().hex[:8]}"
    try:
        yield fs, root
    finally:
        if fs.exists(root):
            fs.rm(root, recursive=True)


def upload(mem: tuple[Any, str], src: Path, name: str) -> str:
    fs, root = mem
    for p in sorted(src.rglob("*")):
        if p.is_file():
            fs.pipe_file(f"{root}/{name}/{p.relative_to(src).as_posix()}", p.read_bytes())
    return f"memory://{root}/{name}"


def remote_tree(mem: tuple[Any, str], url: str, results: bool = True) -> dict[str, bytes]:
    fs, _ = mem
    base = url.removeprefix("memory://").rstrip("/")
    names = {n: n.removeprefix(base + "/") for n in fs.find(base)}
    return {rel: fs.cat_file(n) for n, rel in sorted(names.items()) if _result(rel) or not results}


# -------------------------------------------------------------------------------------------
# The options themselves.


class _Called(Exception):
    """Raised by a stand-in for a run, once it has seen what the command line gave it."""


_RUNS = {
    "text": ("dedup", "dedup_files"),
    "interleaved": ("dedup", "dedup_files"),
    "images": ("images", "images_files"),
    "convert": ("convert", "convert_files"),
    "tokenize": ("tokenize", "tokenize_files"),
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_shared_option_reaches_the_run(
    kind: str, sources: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command takes every shared option and hands it to its run as given: none is
    accepted and then dropped (a local path as a path, an fsspec URL as written)."""
    module, name = _RUNS[kind]
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def stand_in(*args: Any, **kwargs: Any) -> Any:
        calls.append((args, kwargs))
        raise _Called

    monkeypatch.setattr(importlib.import_module(f"mmdedup.cli.{module}"), name, stand_in)
    shared = ["--resume", "--overwrite", "--memory", "3MB", "--threads", "2", "--keep-work-dir"]
    shared += ["--engine", "ray", "--address", "ray://head:10001", "-q"]
    places: list[tuple[str, str, Any]] = [
        (str(tmp_path / "out"), str(tmp_path / "work"), tmp_path / "work"),
        ("s3://bucket/out/", "s3://bucket/runs//one/", "s3://bucket/runs//one/"),
    ]
    for out, work, expected in places:
        r = run(*command(kind, sources), "-o", out, "--work-dir", work, *shared)
        assert isinstance(r.exception, _Called), (r.output, r.exception)
        args, kw = calls.pop()
        assert args[1] == out
        assert kw["work_dir"] == expected
        assert {k: kw[k] for k in ("resume", "overwrite", "keep_work_dir")} == dict.fromkeys(
            ("resume", "overwrite", "keep_work_dir"), True
        )
        assert (kw["memory"], kw["threads"]) == ("3MB", 2)
        assert (kw["engine"], kw["address"]) == ("ray", "ray://head:10001")


@pytest.mark.parametrize("kind", KINDS)
def test_resume_after_a_completed_run(kind: str, sources: dict[str, Path], tmp_path: Path) -> None:
    """A finished run whose work directory is gone has nothing to resume: refused, its results
    untouched. One that kept its work directory resumes to the same bytes, then removes it."""
    args = command(kind, sources)
    done = tmp_path / "done"
    ok(run(*args, "-o", done, "-q"))
    before = everything(done)
    assert tree(done)
    refused(run(*args, "-o", done, "--resume", "-q"), "nothing to resume", "--overwrite")
    assert everything(done) == before
    kept = tmp_path / "kept"
    ok(run(*args, "-o", kept, "--keep-work-dir", "-q"))
    assert (kept / ".mmdedup-work").is_dir()
    ok(run(*args, "-o", kept, "--resume", "-q"))
    assert tree(kept) == tree(done)
    assert not (kept / ".mmdedup-work").exists()  # no --keep-work-dir this time
    refused(run(*args, "-o", kept, "--resume", "-q"), "nothing to resume")


@pytest.mark.parametrize("kind", ["interleaved", "convert", "tokenize"])
def test_threads_give_the_same_bytes(kind: str, sources: dict[str, Path], tmp_path: Path) -> None:
    args = command(kind, sources)
    for n in ("1", "2"):
        ok(run(*args, "-o", tmp_path / n, "--threads", n, "-q"))
        if kind == "interleaved":
            summary = json.loads((tmp_path / n / "summary.json").read_text())
            assert summary["threads"] == int(n)
    one = tree(tmp_path / "1")
    assert len(one) >= 2 and one == tree(tmp_path / "2")


@pytest.mark.parametrize("kind", ["interleaved"])
def test_memory_budget_gives_the_same_bytes(
    kind: str, sources: dict[str, Path], tmp_path: Path
) -> None:
    """Under a budget that makes many partitions of band keys, images and paragraphs: the
    default budget's shards, records and image files, byte for byte."""
    args = command(kind, sources)
    ok(run(*args, "-o", tmp_path / "default", "-q"))
    ok(run(*args, "-o", tmp_path / "small", "--memory", "1KB", "-q"))
    small = json.loads((tmp_path / "small" / "summary.json").read_text())
    default = json.loads((tmp_path / "default" / "summary.json").read_text())
    assert small["partitions"] > 4 and default["partitions"] == 1
    want = tree(tmp_path / "default")
    assert tree(tmp_path / "small") == want
    assert sum(n.startswith("content_image/") for n in want) >= 10
    assert small["documents"]["removed"] == default["documents"]["removed"]


# -------------------------------------------------------------------------------------------
# fsspec URLs.


@pytest.mark.parametrize("kind", NOT_IMAGES)
def test_fsspec_inputs_and_outdir(
    kind: str, sources: dict[str, Path], tmp_path: Path, mem: tuple[Any, str]
) -> None:
    """Inputs and OUTDIR as URLs: the files of a local run, image files beside PIN shards
    copied (and, with ``--image-key bytes``, read) from there; a second run refused without
    ``--overwrite``, which gives the same files again."""
    extra = ["--image-key", "bytes"] if kind == "interleaved" else []
    ok(run(*command(kind, sources), *extra, "-o", tmp_path / "local", "-q"))
    want = tree(tmp_path / "local")
    url = upload(mem, sources[kind], "in")
    remote = [*command(kind, sources, url), *extra]
    out = f"memory://{mem[1]}/out/"
    ok(run(*remote, "-o", out, "-q"))
    assert remote_tree(mem, out) == want
    if kind in ("interleaved", "convert"):
        assert sum(n.startswith("content_image/") for n in want) >= 10
    if kind == "interleaved":
        # The pictures beside the shards were read (the other images are URLs, not files).
        summary = json.loads(mem[0].cat_file(f"{mem[1]}/out/summary.json"))
        assert summary["images"]["errors"] == summary["images"]["in"] - 16
    refused(run(*remote, "-o", out, "-q"), "results of an earlier run", "--overwrite")
    ok(run(*remote, "-o", out, "--overwrite", "-q"))
    assert remote_tree(mem, out) == want


@pytest.mark.parametrize("kind", NOT_IMAGES)
def test_no_output_into_a_remote_input_directory(
    kind: str, sources: dict[str, Path], tmp_path: Path, mem: tuple[Any, str]
) -> None:
    """OUTDIR or the work directory in, or inside, an input directory on a remote file system
    is refused before anything is written, as it is for a local one."""
    url = upload(mem, sources[kind], "in")
    before = remote_tree(mem, url, results=False)
    remote = command(kind, sources, url)
    for out in (url, f"{url}/", f"{url}/out", f"{url}/sub/out/"):
        refused(run(*remote, "-o", out, "-q"), "input directory")
    refused(run(*remote, "-o", tmp_path / "o", "--work-dir", f"{url}/work", "-q"), "--work-dir")
    assert not (tmp_path / "o").exists()
    assert remote_tree(mem, url, results=False) == before
    # A directory beside the inputs is fine.
    ok(run(*remote, "-o", f"memory://{mem[1]}/in-out", "-q"))


def test_one_input_directory_under_any_spelling(
    sources: dict[str, Path], tmp_path: Path, mem: tuple[Any, str]
) -> None:
    """A ``file://`` URL is the local directory it names, and ``memory://x`` and
    ``memory:///x/`` are one directory: OUTDIR inside the inputs is refused under each."""
    local = tmp_path / "in"
    shutil.copytree(sources["text"], local)
    for given, out in (
        (f"file://{local}", local / "out"),
        (str(local), f"file://{local}/out"),
    ):
        refused(run("dedup", given, "-o", out, "-q"), "input directory")
        assert not (local / "out").exists()
    url = upload(mem, sources["text"], "in")
    spelled = url.replace("memory:///", "memory://").replace("memory://", "memory:///") + "/"
    assert spelled != url
    refused(run("dedup", spelled, "-o", f"{url}/out", "-q"), "input directory")
    refused(run("dedup", url, "-o", f"{spelled}out", "-q"), "input directory")


# -------------------------------------------------------------------------------------------
# The work directory.


@pytest.mark.parametrize("kind", ["interleaved", "convert", "tokenize"])
def test_work_dir_and_keep_work_dir(kind: str, sources: dict[str, Path], tmp_path: Path) -> None:
    """Removed once the run succeeds, kept with --keep-work-dir; a --work-dir of the user's is
    emptied and stays marked; one that mmdedup did not make, or an input directory, is refused.
    The results do not depend on where it is."""
    args = command(kind, sources)
    out = tmp_path / "out"
    r = ok(run(*args, "-o", out))
    assert "work directory removed" in r.output and "--keep-work-dir keeps it" in r.output
    assert not (out / ".mmdedup-work").exists()
    kept = tmp_path / "kept"
    r = ok(run(*args, "-o", kept, "--keep-work-dir"))
    assert f"work directory kept: {kept / '.mmdedup-work'}" in r.output
    assert (kept / ".mmdedup-work" / "done").is_dir()
    if kind == "interleaved":
        assert json.loads((out / "summary.json").read_text())["work_dir"]["kept"] is False
        assert json.loads((kept / "summary.json").read_text())["work_dir"]["kept"] is True
    mine = tmp_path / "scratch"
    ok(run(*args, "-o", tmp_path / "mine", "--work-dir", mine, "-q"))
    assert [p.name for p in mine.iterdir()] == [".mmdedup-workdir"]
    assert tree(tmp_path / "mine") == tree(kept) == tree(out)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    refused(
        run(*args, "-o", tmp_path / "o1", "--work-dir", foreign, "-q"), "not created by mmdedup"
    )
    assert everything(foreign) == {"notes.txt": b"mine"}
    before = everything(sources[kind])
    refused(
        run(*args, "-o", tmp_path / "o2", "--work-dir", sources[kind] / "w", "-q"),
        "input directory",
    )
    assert everything(sources[kind]) == before
