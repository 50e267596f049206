"""Nothing of the user's is lost: work directories, output directories, locks, file modes,
memory budgets and full disks, for every corpus command, run as a user runs them."""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import edit, random_doc
from mmdedup.runs.dirs import lock
from PIL import Image


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mmdedup", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        check=False,
    )


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def refused(r: subprocess.CompletedProcess[str], *words: str) -> None:
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


@pytest.fixture
def text(tmp_path: Path) -> Path:
    """Two text shards with near-duplicates."""
    rng = random.Random(7)
    base = [random_doc(rng, 60) for _ in range(40)]
    docs = base + [edit(rng, d, 1) for d in base[:10]]
    src = tmp_path / "text"
    src.mkdir()
    pq.write_table(pa.table({"text": docs[::2]}), src / "a.parquet")
    with open(src / "b.jsonl", "w") as f:
        for d in docs[1::2]:
            f.write(json.dumps({"text": d}) + "\n")
    return src


@pytest.fixture
def obelics(tmp_path: Path) -> Path:
    src = tmp_path / "ob"
    src.mkdir()
    rng = random.Random(3)
    docs = [random_doc(rng, 50) for _ in range(6)]
    pq.write_table(
        pa.table(
            {
                "images": [[None, f"http://x/{i}.png"] for i in range(8)],
                "texts": [[docs[i % 6], None] for i in range(8)],
                "metadata": [json.dumps([None, None])] * 8,
                "general_metadata": [json.dumps({"url": f"http://x/{i}"}) for i in range(8)],
            }
        ),
        src / "part.parquet",
    )
    return src


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    src = tmp_path / "photos"
    src.mkdir()
    rng = np.random.default_rng(5)
    for i in range(4):
        pic = Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
        pic.save(src / f"p{i}.png")
    pic.resize((32, 24)).save(src / "p3-small.png")
    return src


@pytest.fixture
def ranks(tmp_path: Path) -> Path:
    path = tmp_path / "r50k_base.tiktoken"
    path.write_text("".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256)))
    return path


def commands(kind: str, src: Path, ranks: Path) -> list[str]:
    return {
        "text": ["dedup", str(src), "-q"],
        "interleaved": ["dedup", str(src), "-q"],
        "images": ["images", str(src), "-q"],
        "convert": ["convert", str(src), "--to", "mmc4", "-q"],
        "tokenize": ["tokenize", str(src), "--tokenizer", str(ranks), "-q"],
    }[kind]


KINDS = ["text", "interleaved", "images", "convert", "tokenize"]


@pytest.fixture
def source(request: pytest.FixtureRequest) -> Path:
    kind = request.param
    name = {"text": "text", "interleaved": "obelics", "images": "photos"}.get(kind, "obelics")
    path: Path = request.getfixturevalue(name)
    return path


@pytest.mark.parametrize("source,kind", [(k, k) for k in KINDS], indirect=["source"])
def test_output_into_an_input_directory_is_refused(
    source: Path, kind: str, ranks: Path, tmp_path: Path
) -> None:
    before = snapshot(source)
    args = commands(kind, source, ranks)
    refused(cli(*args, "-o", str(source)), "input directory")
    refused(cli(*args, "-o", str(source / "out")), "lies inside the input directory")
    assert snapshot(source) == before


@pytest.mark.parametrize("source,kind", [(k, k) for k in KINDS], indirect=["source"])
def test_foreign_files_in_outdir_are_never_replaced(
    source: Path, kind: str, ranks: Path, tmp_path: Path
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    args = commands(kind, source, ranks)
    for extra in ([], ["--overwrite"]):
        refused(cli(*args, "-o", str(out), *extra), "did not write", "notes.txt")
    assert snapshot(out) == {"notes.txt": b"mine"}


@pytest.mark.parametrize("source,kind", [(k, k) for k in KINDS], indirect=["source"])
def test_overwrite_replaces_exactly_the_earlier_results(
    source: Path, kind: str, ranks: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = commands(kind, source, ranks)
    first = cli(*args, "-o", str(out))
    assert first.returncode == 0, first.stderr
    refused(cli(*args, "-o", str(out)), "results of an earlier run", "--overwrite")
    # An earlier result that the new run does not write is removed, not left looking final.
    listed = json.loads((out / ".mmdedup-outputs.json").read_text())["outputs"]
    stale = out / "stale-shard.parquet"
    stale.write_bytes(b"old")
    listed.append(stale.name)
    (out / ".mmdedup-outputs.json").write_text(json.dumps({"outputs": listed}))
    again = cli(*args, "-o", str(out), "--overwrite")
    assert again.returncode == 0, again.stderr
    assert not stale.exists()
    assert all(m.stat().st_mode & 0o777 == 0o644 for m in out.iterdir() if m.is_file())


@pytest.mark.parametrize("kind", ["text", "interleaved", "images"])
def test_work_dir_that_mmdedup_did_not_make_is_never_emptied(
    kind: str, text: Path, obelics: Path, photos: Path, ranks: Path, tmp_path: Path
) -> None:
    src = {"text": text, "interleaved": obelics, "images": photos}[kind]
    args = commands(kind, src, ranks)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "notes.txt").write_text("mine")
    (scratch / "manifest.json").write_text("{}")  # what made earlier versions wipe it
    before = snapshot(src)
    refused(
        cli(*args, "-o", str(tmp_path / "o1"), "--work-dir", str(scratch)), "not created by mmdedup"
    )
    refused(cli(*args, "-o", str(tmp_path / "o2"), "--work-dir", str(src)), "input directory")
    refused(cli(*args, "-o", str(tmp_path / "o3"), "--work-dir", ".", cwd=scratch))
    assert snapshot(src) == before
    assert snapshot(scratch) == {"notes.txt": b"mine", "manifest.json": b"{}"}
    # A new directory is made, marked and reused by the next run, resumed or not.
    work = tmp_path / "work"
    for i in range(2):
        r = cli(*args, "-o", str(tmp_path / f"ok{i}"), "--work-dir", str(work))
        assert r.returncode == 0, r.stderr
    assert (work / ".mmdedup-workdir").exists()


def test_a_second_run_on_a_locked_outdir_is_refused(text: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with lock(out, "-o"):
        r = cli("dedup", str(text), "-o", str(out), "-q")
    refused(r, "in use by another mmdedup run", f"pid {os.getpid()}")
    assert not (out / ".mmdedup.lock").exists()
    ok = cli("dedup", str(text), "-o", str(out), "-q")
    assert ok.returncode == 0, ok.stderr
    assert not (out / ".mmdedup.lock").exists()


def test_outputs_follow_the_umask(text: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = subprocess.run(
        ["sh", "-c", f'umask 002 && "{sys.executable}" -m mmdedup dedup "{text}" -o "{out}" -q'],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir() if p.is_file()}
    assert set(modes.values()) == {0o664}, modes


@pytest.mark.parametrize(
    "value,words",
    [
        ("1", "forgotten unit"),
        ("4", "forgotten unit"),
        ("nan", "number of bytes"),
        ("inf", "number of bytes"),
        ("2PB", "more than 1PB"),
    ],
)
def test_memory_budget_has_bounds(text: Path, tmp_path: Path, value: str, words: str) -> None:
    for command in (["dedup", str(text)], ["images", str(text)]):
        r = cli(*command, "-o", str(tmp_path / "o"), "--memory", value)
        refused(r, words)


def test_a_tiny_explicit_budget_makes_at_most_one_partition_per_document(
    text: Path, tmp_path: Path
) -> None:
    r = cli("dedup", str(text), "-o", str(tmp_path / "o"), "--memory", "1KB", "-q")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["partitions"] <= 50


def test_clean_one_line_errors(text: Path, tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    refused(cli("dedup", str(text), "-o", str(f)), "is a file")
    refused(cli("dedup", str(text), "-o", str(f / "below")), "-o")
    r = cli("dedup", str(text), "-o", str(tmp_path / "o"), "--seed", "-1")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
        refused(cli("dedup", str(text), "-o", str(ro / "out")), "cannot")


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (root only): a full disk to write to."""
    where = tmp_path / "full"
    where.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], check=False)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_stops_with_a_message_and_resume_finishes(
    small_tmpfs: Path, tmp_path: Path
) -> None:
    rng = random.Random(11)
    base = [random_doc(rng, 300) for _ in range(1500)]
    src = tmp_path / "big"
    src.mkdir()
    for s in range(3):
        pq.write_table(pa.table({"text": base[s::3]}), src / f"s{s}.parquet")
    args = ["dedup", str(src), "--num-perm", "1024", "-q"]
    clean = cli(*args, "-o", str(tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr
    work = small_tmpfs / "work"
    full = cli(*args, "-o", str(tmp_path / "out"), "--work-dir", str(work))
    refused(full, "no space left on device", "--resume")
    subprocess.run(["mount", "-o", "remount,size=256m", str(small_tmpfs)], check=True)
    done = cli(*args, "-o", str(tmp_path / "out"), "--work-dir", str(work), "--resume")
    assert done.returncode == 0, done.stderr
    a, b = snapshot(tmp_path / "clean"), snapshot(tmp_path / "out")
    a.pop("summary.json"), b.pop("summary.json")
    a = {k: v for k, v in a.items() if ".mmdedup-work" not in k}
    assert a == b


def test_a_write_cut_short_in_outdir_is_cleaned_up_on_resume(tmp_path: Path) -> None:
    """kill -9 in the middle of writing an output leaves its temporary file beside it: that
    file is mmdedup's own (refused as an earlier result without --resume or --overwrite, removed
    with them); a temporary-looking file of an output mmdedup never listed stays foreign."""
    from mmdedup.errors import InputError
    from mmdedup.runs.dirs import open_run

    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jsonl").write_text('{"text": "x"}\n')
    out = tmp_path / "out"
    with open_run(out, inputs=[str(src)], shards=[str(src / "a.jsonl")]) as run:
        run.declare(["sub/a.jsonl"])
    (out / "sub").mkdir()
    cut = out / "sub" / ".a.jsonl.k3j_x9.tmp"
    cut.write_bytes(b"half")
    with (
        pytest.raises(InputError, match="results of an earlier run"),
        open_run(out, inputs=[str(src)], shards=[]),
    ):
        pass
    with open_run(out, inputs=[str(src)], shards=[], resume=True):
        assert not cut.exists()
    (out / ".b.jsonl.k3j_x9.tmp").write_bytes(b"?")
    with (
        pytest.raises(InputError, match="did not write"),
        open_run(out, inputs=[str(src)], shards=[], resume=True),
    ):
        pass


@pytest.mark.parametrize("where", ["local", "memory"])
def test_a_write_that_raises_leaves_no_file(where: str, tmp_path: Path) -> None:
    """Every output is written whole or not at all: a writer that raises midway leaves neither a
    file nor, on object storage, an object cut short (nor a temporary file beside it)."""
    import uuid

    import fsspec
    from mmdedup.storage import Location

    root = str(tmp_path) if where == "local" else f"memory://safety-{uuid.uuid4().hex[:8]}"
    target = Location(root) / "out.parquet"
    with pytest.raises(RuntimeError), target.write() as f:
        f.write(b"PAR1" * 1000)
        raise RuntimeError("cut short")
    assert not target.exists()
    if where == "local":
        assert list(tmp_path.iterdir()) == []
    with target.write() as f:
        f.write(b"whole")
    assert target.read_bytes() == b"whole"
    if where == "memory":
        fsspec.filesystem("memory").rm(target.parent_path(), recursive=True)


def test_files_of_a_unit_are_made_durable_together_before_its_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside ``durable_together`` a unit's files are synced when the block ends, after every
    one of them was written (none while it runs); a block that raises syncs nothing; outside
    it, each write is synced before its rename, as before."""
    from mmdedup import storage

    synced: list[str] = []
    fsync = os.fsync

    def record(fd: int) -> None:
        synced.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", record)
    (tmp_path / ".c.tmp").write_bytes(b"c")
    (tmp_path / "d").write_bytes(b"d")
    with storage.durable_together():
        with storage.atomic_write(tmp_path / "a") as f:
            f.write(b"a")
        with storage.durable_together():  # joins the outer block
            storage.durable_rename(tmp_path / ".c.tmp", tmp_path / "c")
        storage.sync_file(tmp_path / "d")
        with storage.atomic_write(tmp_path / "g") as f:  # a piece merged and removed
            f.write(b"g")
        (tmp_path / "g").unlink()
        assert synced == []
    assert synced == ["a", "c", "d"]
    synced.clear()
    with pytest.raises(RuntimeError), storage.durable_together():
        with storage.atomic_write(tmp_path / "e") as f:
            f.write(b"e")
        raise RuntimeError("the unit failed")
    assert synced == [] and (tmp_path / "e").read_bytes() == b"e"
    with storage.atomic_write(tmp_path / "f") as f:
        f.write(b"f")
    assert len(synced) == 1 and synced[0].startswith(".f.")  # the temporary file, before rename


def test_units_hand_their_syncs_and_markers_to_one_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit run by ``background_syncs`` ends its block at once; its files are synced, then
    its marker written, on another thread, unit after unit in order; all is done when the
    block ends, whose exit raises a failure of that thread. A nested unit's marker waits for
    the outer unit's files."""
    import threading

    from mmdedup import storage

    events: list[tuple[str, str]] = []
    fsync = os.fsync

    def record(fd: int) -> None:
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        events.append(("sync", name))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", record)
    here = threading.get_ident()
    marked: list[bool] = []

    def mark(unit: str) -> None:
        marked.append(threading.get_ident() != here)
        events.append(("mark", unit))

    def unit(name: str) -> None:
        with storage.durable_together(then=lambda: mark(name)):
            with storage.atomic_write(tmp_path / f"{name}.a") as f:
                f.write(b"a")
            with (
                storage.durable_together(then=lambda: mark(name + "-inner")),
                storage.atomic_write(tmp_path / f"{name}.b") as f,
            ):
                f.write(b"b")

    with storage.background_syncs() as within:
        for name in ("u1", "u2"):
            within(lambda n=name: unit(n))
    assert events == [
        ("sync", "u1.a"),
        ("sync", "u1.b"),
        ("mark", "u1-inner"),
        ("mark", "u1"),
        ("sync", "u2.a"),
        ("sync", "u2.b"),
        ("mark", "u2-inner"),
        ("mark", "u2"),
    ]
    assert marked == [True] * 4  # on the syncing thread
    # A marker that cannot be written: raised when the block ends; nothing after it is marked.
    events.clear()

    def fail() -> None:
        raise OSError("disk full")

    def failing() -> None:
        with storage.durable_together(then=fail):
            pass

    def late() -> None:
        with storage.durable_together(then=lambda: mark("late")):
            pass

    with pytest.raises(OSError, match="disk full"), storage.background_syncs() as within:
        within(failing)
        within(late)
    assert ("mark", "late") not in events
    # Outside a unit of background_syncs (even inside its block), a block syncs and marks on
    # its own thread: another run's units in this process are not handed to this one's thread.
    marked.clear()
    with storage.background_syncs():
        with storage.durable_together(then=lambda: mark("here")):
            pass
        assert marked == [False]
