"""The corpus runs as a pipeline calls them (``mmdedup.runs``), and what a batch job sees of
their progress: log lines instead of bars when stderr is not a terminal."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mmdedup.dedup import DedupConfig
from mmdedup.errors import ParameterError
from mmdedup.runs import dedup_files, images_files
from mmdedup.runs.progress import Progress, configure_logging, log
from PIL import Image

TEXTS = [
    "the quick brown fox jumps over the lazy dog again and again today",
    "the quick brown fox jumps over the lazy dog again and again today",
    "a completely different sentence about shards and parquet files here",
]


def _shard(path: Path) -> Path:
    pq.write_table(pa.table({"id": [1, 2, 3], "text": TEXTS}), path)
    return path


def test_dedup_files_runs_what_the_cli_runs(tmp_path: Path) -> None:
    src = _shard(tmp_path / "a.parquet")
    s = dedup_files([src], tmp_path / "api", config=DedupConfig(), id_column="id")
    r = subprocess.run(
        [sys.executable, "-m", "mmdedup", "dedup", str(src), "-o", str(tmp_path / "cli"),
         "--id-column", "id", "-q"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert r.stdout == ""
    assert s["counts"]["kept"] == 2 and s["counts"]["removed"] == 1
    for name in ("a.parquet", "clusters.parquet"):
        assert pq.read_table(tmp_path / "api" / name).equals(pq.read_table(tmp_path / "cli" / name))


def test_dedup_files_refuses_options_of_the_other_kind(tmp_path: Path) -> None:
    src = _shard(tmp_path / "a.parquet")
    with pytest.raises(ParameterError, match="interleaved"):
        dedup_files([src], tmp_path / "o", images=tmp_path / "images.parquet")


def test_images_files(tmp_path: Path) -> None:
    src = tmp_path / "imgs"
    src.mkdir()
    for i in range(3):
        Image.new("RGB", (32 + 16 * i, 32), (40 * i, 90, 200)).save(src / f"{i}.png")
    s = images_files([src], tmp_path / "out", method="dhash")
    assert s["counts"]["images"] == 3
    assert (tmp_path / "out" / "clusters.parquet").exists()


def test_progress_logs_when_not_at_a_terminal() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    log.addHandler(handler)
    old = log.level
    log.setLevel(logging.INFO)
    try:
        p = Progress(terminal=False, every=0.0)
        tick = p("write", 2)
        tick(1)
        tick(1)
        p.close()
    finally:
        log.removeHandler(handler)
        log.setLevel(old)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "write: 2 shard(s) to do"
    assert any(line.startswith("write: 1/2 shards") and "left" in line for line in lines)
    assert lines[-1].startswith("write: done, 2 shards in")


def test_stages_of_shards_count_their_documents() -> None:
    from mmdedup.runs.engine import Stages

    got: list[tuple[str, int | None, str | None]] = []
    ticks: list[int] = []

    def progress(stage: str, units: int | None, unit: str | None = None) -> Any:
        got.append((stage, units, unit))
        return ticks.append

    ran: list[int] = []
    Stages(progress)("signatures", 3, ran.append, docs=[5, 0, 7])
    assert ran == [0, 1, 2] and got == [("signatures", 12, "doc")] and ticks == [5, 0, 7]


def test_cli_logs_stages_as_json_in_a_batch_job(tmp_path: Path) -> None:
    src = _shard(tmp_path / "a.parquet")
    logfile = tmp_path / "run.log"
    r = subprocess.run(
        [sys.executable, "-m", "mmdedup", "--log-format", "json", "--log-file", str(logfile),
         "dedup", str(src), "-o", str(tmp_path / "o")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    # stderr is a pipe here, as under Slurm: one line per stage start and end, no bars.
    console = [json.loads(line) for line in r.stderr.splitlines()]
    messages = [e["message"] for e in console]
    for stage in ("signatures", "candidates", "clusters", "write"):
        assert any(m.startswith(f"{stage}: done") for m in messages), messages
    assert all(e["level"] == "info" and e["logger"] == "mmdedup" for e in console)
    assert [json.loads(line)["message"] for line in logfile.read_text().splitlines()] == messages
    assert "kept 2" in r.stdout


def test_quiet_and_verbose_levels() -> None:
    configure_logging(quiet=True)
    assert log.handlers[0].level == logging.ERROR
    configure_logging(verbose=2)
    assert log.level == logging.DEBUG
    configure_logging()


def test_a_run_where_every_input_failed_exits_1(tmp_path: Path) -> None:
    src = tmp_path / "imgs"
    src.mkdir()
    for i in range(2):
        (src / f"{i}.png").write_bytes(b"not a png at all")
    r = subprocess.run(
        [sys.executable, "-m", "mmdedup", "images", str(src), "-o", str(tmp_path / "o"), "-q"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1, r.stderr
    assert "every one of the 2 images failed" in r.stderr
    # The results that say why are written all the same.
    errors = pq.read_table(tmp_path / "o" / "clusters.parquet")["error"].to_pylist()
    assert all(errors)
    (src / "2.png").write_bytes(b"")
    Image.new("RGB", (8, 8)).save(src / "3.png")
    ok = subprocess.run(
        [sys.executable, "-m", "mmdedup", "images", str(src), "-o", str(tmp_path / "p"), "-q"],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr


def test_local_engine_runs_two_shards_at_once_and_in_order_elsewhere() -> None:
    import threading

    from mmdedup.runs.engine import map_threads

    each = map_threads(2, frozenset({"signatures"}))
    both = threading.Barrier(2, timeout=10)  # passes only if two units run at the same time
    seen: list[int] = []
    ticks: list[int] = []
    each("signatures", lambda u: (both.wait() if u < 2 else None, seen.append(u)), 4, ticks.append)
    assert sorted(seen) == [0, 1, 2, 3] and sum(ticks) == 4
    order: list[int] = []
    each("candidates", order.append, 5, None)  # not a shard stage: one after another
    assert order == [0, 1, 2, 3, 4]
    seen.clear()
    each1 = map_threads(1, frozenset({"signatures"}))
    each1("signatures", seen.append, 3, None)
    assert seen == [0, 1, 2]

    def fail(u: int) -> None:
        if u == 1:
            raise ValueError("unit 1 failed")

    with pytest.raises(ValueError, match="unit 1 failed"):
        each("signatures", fail, 6, None)


def test_two_threads_write_the_same_bytes_as_one(tmp_path: Path) -> None:
    """Shards hashed and written two at a time give the files of a run that takes them one by
    one (several partitions under the small ``--memory``)."""
    import random

    rng = random.Random(3)
    words = [f"w{i}" for i in range(400)]
    base = [" ".join(rng.choice(words) for _ in range(60)) for _ in range(120)]
    src = tmp_path / "in"
    src.mkdir()
    for s in range(5):
        docs = [base[(s * 37 + i) % len(base)] for i in range(60)]
        docs = [d if i % 4 else d + f" tail {s}" for i, d in enumerate(docs)]
        pq.write_table(
            pa.table({"id": [f"{s}-{i}" for i in range(60)], "text": docs}),
            src / f"part-{s}.parquet",
            row_group_size=16,
        )
    outs = {}
    for threads in (1, 2):
        out = tmp_path / f"t{threads}"
        summary = dedup_files(
            [src], out, config=DedupConfig(), id_column="id", threads=threads, memory="256KB"
        )
        assert summary["counts"]["removed"] > 0
        outs[threads] = {
            p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name != "summary.json"
        }
    assert outs[1] == outs[2]
    assert len(outs[1]) >= 6  # five shards, clusters.parquet and the outputs' listing


def test_ctrl_c_stops_the_shards_in_flight() -> None:
    """Ctrl-C while two shards run: both stop at their next Python step, not at their end."""
    import os
    import signal
    import threading
    import time

    from mmdedup.runs.engine import map_threads

    finished: list[int] = []

    def long_unit(u: int) -> None:
        end = time.monotonic() + 30
        while time.monotonic() < end:
            time.sleep(0.01)
        finished.append(u)

    each = map_threads(2, frozenset({"write"}))
    # Ctrl-C as a command line sees it (an earlier test may have installed another handler).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        t = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            each("write", long_unit, 4, None)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - t < 10 and not finished


def test_two_unit_threads_run_their_kernels_themselves_until_the_last_units() -> None:
    """With two threads, each unit thread runs its kernels itself (one kernel thread each)
    while another unit waits to start; once fewer units are left than threads, kernels go to
    the shared pool again, which the last unit then uses."""
    import threading
    import time

    from mmdedup import _core
    from mmdedup.runs.engine import map_threads

    threads = _core.get_num_threads()
    _core.set_num_threads(2)
    try:
        each = map_threads(2, frozenset({"signatures"}))
        seen: dict[int, tuple[int, int]] = {}
        first_done = threading.Event()

        def unit(u: int) -> None:
            mine = _core.get_num_threads()
            if u == 0:
                first_done.set()
            elif u == 1:
                first_done.wait(10)
            else:  # the last unit: kernels come back to the pool once unit 1 has ended
                end = time.monotonic() + 10
                while _core.get_num_threads() != 2 and time.monotonic() < end:
                    time.sleep(0.01)
            seen[u] = (mine, _core.get_num_threads())

        each("signatures", unit, 3, None)
        assert seen[0][0] == 1 and seen[1][0] == 1
        assert seen[2][1] == 2
        # Afterwards, the unit threads run their kernels themselves again.
        each("signatures", lambda u: seen.__setitem__(u, (_core.get_num_threads(), 0)), 4, None)
        assert seen[0][0] == 1
        # The calling thread's kernels use the pool throughout.
        assert _core.get_num_threads() == 2
    finally:
        _core.set_num_threads(threads)


def test_a_forked_child_runs_units_on_threads_of_its_own(tmp_path: Path) -> None:
    """The unit threads kept for the life of the process are the parent's: a child forked
    after a two-thread run starts its own instead of waiting on threads it does not have."""
    import multiprocessing

    from mmdedup.runs.engine import map_threads

    map_threads(2, frozenset({"write"}))("write", lambda u: None, 2, None)
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_units_in_a_child, args=(str(tmp_path / "done"),))
    child.start()
    child.join(60)
    assert child.exitcode == 0 and (tmp_path / "done").read_text() == "[0, 1, 2]"


def _units_in_a_child(done: str) -> None:
    from mmdedup.runs.engine import map_threads

    seen: list[int] = []
    map_threads(2, frozenset({"write"}))("write", seen.append, 3, None)
    Path(done).write_text(str(sorted(seen)))
