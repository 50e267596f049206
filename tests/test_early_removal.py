"""A run whose work directory goes when it ends removes its largest files (sets, signatures,
partitions, edges) before the write stage, once it has kept apart the sets and signatures its
precision estimate will measure: the estimate, the outputs and ``--resume`` are unchanged."""

from __future__ import annotations

import importlib
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mmdedup.inspect import precision_estimate
from mmdedup.runs import dedup_files
from test_inspect import edit_chains
from test_pipeline import cli, files


@pytest.fixture
def chains(tmp_path: Path) -> Path:
    """Three shards of chains of edits (2 words per link): more removed members than the
    estimate samples (so that the draw matters), some of them below the threshold."""
    texts = edit_chains(random.Random(11), 90, 120, 60)
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        part = texts[i::3]
        pq.write_table(
            pa.table({"id": [f"{i}-{j}" for j in range(len(part))], "text": part}),
            src / f"p{i}.parquet",
            row_group_size=50,
        )
    return src


@pytest.mark.parametrize("threads", [1, 2])
def test_the_estimate_is_measured_on_the_sample_kept_before_the_sets_go(
    chains: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    data = importlib.import_module("mmdedup.inspect.data")
    kept_dir = dedup_files(
        [str(chains)], tmp_path / "kept", id_column="id", threads=threads, keep_work_dir=True
    )
    work = Path(kept_dir["work_dir"]["path"])
    assert (work / "sets").is_dir() and not (work / data.SAMPLE_SETS).exists()
    with monkeypatch.context() as m:
        m.setattr(data, "read_rows", lambda *a: pytest.fail("a shard was read"))
        early = dedup_files([str(chains)], tmp_path / "early", id_column="id", threads=threads)
    # The same draw (more removed members than the sample) and the same measures, to the bit,
    # as the run that kept every set, and as the estimate taken from the texts afterwards.
    assert early["precision"]["population"] > early["precision"]["pairs"] == 200
    assert 0 < early["precision"]["below_threshold"] < 200
    assert early["precision"] == kept_dir["precision"]
    assert precision_estimate(tmp_path / "early") == early["precision"]
    outputs = {k: v for k, v in files(tmp_path / "early").items() if not k.startswith(".")}
    assert outputs == {k: v for k, v in files(tmp_path / "kept").items() if not k.startswith(".")}
    # The work directory's size counts the files removed early.
    assert not Path(early["work_dir"]["path"]).exists()
    assert early["work_dir"]["bytes"] >= kept_dir["work_dir"]["bytes"] > 0


def test_a_run_killed_after_the_early_removal_resumes(chains: Path, tmp_path: Path) -> None:
    args = [str(chains), "--id-column", "id", "-q", "--threads", "2"]
    clean = cli("dedup", *args, "-o", str(tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr
    out = tmp_path / "x"
    killed = cli("dedup", *args, "-o", str(out), env={"MMDEDUP_CRASH_AFTER": "write-000001"})
    assert killed.returncode == -9, killed.stderr
    work = out / ".mmdedup-work"
    assert not (work / "sets").exists() and (work / "precision-sets.npz").is_file()
    resumed = cli("dedup", *args, "-o", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert files(out) == files(tmp_path / "clean")
    a = json.loads((out / "summary.json").read_text())
    b = json.loads((tmp_path / "clean" / "summary.json").read_text())
    assert a["precision"] == b["precision"] and a["counts"] == b["counts"]


def test_a_kept_work_directory_keeps_its_sets(chains: Path, tmp_path: Path) -> None:
    """Kept for a later run's ``--index``: nothing is removed early, and the index works."""
    first = dedup_files([str(chains)], tmp_path / "a", id_column="id", keep_work_dir=True)
    work = Path(first["work_dir"]["path"])
    assert (work / "sets").is_dir() and (work / "signatures.npy").is_file()
    again = dedup_files([str(chains)], tmp_path / "b", id_column="id", index=str(work))
    assert again["counts"]["kept"] == 0
