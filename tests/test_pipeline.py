from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import mmdedup
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import edit, random_doc
from mmdedup.runs import dedup_files
from mmdedup.runs.budget import parse_size


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Six shards, with near-duplicates within and across shards, and exact copies."""
    rng = random.Random(99)
    base = [random_doc(rng, 80) for _ in range(150)]
    docs = base + [edit(rng, base[rng.randrange(150)], 1) for _ in range(60)] + base[:15]
    rng.shuffle(docs)
    src = tmp_path / "corpus"
    src.mkdir()
    for s in range(6):
        part = docs[s::6]
        ids = [f"s{s}-{i}" for i in range(len(part))]
        if s % 2:
            with open(src / f"part-{s}.jsonl", "w") as f:
                for i, t in zip(ids, part, strict=True):
                    f.write(json.dumps({"id": i, "text": t}) + "\n")
        else:
            pq.write_table(pa.table({"id": ids, "text": part}), src / f"part-{s}.parquet")
    return src


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mmdedup", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


def files(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".mmdedup-work" not in p.parts and p.name != "summary.json"
    }


def test_staged_run_equals_in_memory_dedup(corpus: Path, tmp_path: Path) -> None:
    summary = dedup_files(
        [str(corpus)], tmp_path / "out", config=mmdedup.DedupConfig(threshold=0.7), id_column="id"
    )
    staged = pl.read_parquet(tmp_path / "out" / "clusters.parquet")
    frames = []
    for p in sorted(corpus.iterdir()):
        df = pl.read_parquet(p) if p.suffix == ".parquet" else pl.read_ndjson(p)
        frames.append(df.select("id", "text"))
    memory = mmdedup.dedup(pl.concat(frames), threshold=0.7)
    assert staged["cluster"].to_list() == memory["cluster"].to_list()
    assert staged["keep"].to_list() == memory["keep"].to_list()
    assert summary["counts"]["removed"] >= 60


@pytest.mark.parametrize("method", ["minhash", "exact", "simhash"])
def test_partitions_do_not_change_results(corpus: Path, tmp_path: Path, method: str) -> None:
    cfg = mmdedup.DedupConfig(method=method, threshold=0.7)  # type: ignore[arg-type]
    one = dedup_files([str(corpus)], tmp_path / "one", config=cfg, memory="1GB")
    many = dedup_files([str(corpus)], tmp_path / "many", config=cfg, memory="4KB")
    if method != "simhash":
        assert one["partitions"] == 1 and many["partitions"] >= 4
    assert files(tmp_path / "one") == files(tmp_path / "many")


@pytest.mark.parametrize(
    "unit",
    [
        "signatures-000000",
        "signatures-000003",
        "candidates-00002",
        "clusters",
        "write-000001",
        "write-000005",
    ],
)
def test_kill_and_resume_is_byte_identical(corpus: Path, tmp_path: Path, unit: str) -> None:
    args = [str(corpus), "--id-column", "id", "-t", "0.7", "--memory", "4KB", "-q"]
    clean = cli("dedup", *args, "-o", str(tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr
    killed = cli("dedup", *args, "-o", str(tmp_path / "x"), env={"MMDEDUP_CRASH_AFTER": unit})
    assert killed.returncode == -9
    assert not (tmp_path / "x" / "summary.json").exists()
    refused = cli("dedup", *args, "-o", str(tmp_path / "x"), "-t", "0.9", "--resume")
    assert refused.returncode != 0 and "other inputs or parameters" in refused.stderr
    resumed = cli("dedup", *args, "-o", str(tmp_path / "x"), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert files(tmp_path / "x") == files(tmp_path / "clean")
    a = json.loads((tmp_path / "x" / "summary.json").read_text())
    b = json.loads((tmp_path / "clean" / "summary.json").read_text())
    assert a["counts"] == b["counts"] and a["status"] == b["status"]


def test_ctrl_c_exits_130_saying_how_to_go_on(corpus: Path, tmp_path: Path) -> None:
    args = [str(corpus), "--id-column", "id", "-t", "0.7", "--memory", "4KB", "-q"]
    stopped = cli(
        "dedup", *args, "-o", str(tmp_path / "x"), env={"MMDEDUP_INTERRUPT_AFTER": "clusters"}
    )
    assert stopped.returncode == 130
    assert "interrupted: run the same command with --resume" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert not (tmp_path / "x" / "summary.json").exists()
    resumed = cli("dedup", *args, "-o", str(tmp_path / "x"), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    clean = cli("dedup", *args, "-o", str(tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr
    assert files(tmp_path / "x") == files(tmp_path / "clean")


def test_fresh_run_clears_old_work(corpus: Path, tmp_path: Path) -> None:
    cfg = mmdedup.DedupConfig(threshold=0.7)
    dedup_files([str(corpus)], tmp_path / "o", config=cfg)
    first = files(tmp_path / "o")
    dedup_files(
        [str(corpus)], tmp_path / "o", config=mmdedup.DedupConfig(threshold=0.95), overwrite=True
    )
    dedup_files([str(corpus)], tmp_path / "o", config=cfg, overwrite=True)
    assert files(tmp_path / "o") == first


def test_parse_size() -> None:
    assert parse_size("4GB") == 4 * 2**30
    assert parse_size("512MiB") == 512 * 2**20
    assert parse_size("1.5g") == int(1.5 * 2**30)
    assert parse_size("1000B") == 1000  # bytes, said explicitly
    assert parse_size("5000000") == 5_000_000
    for bad in ("lots", "1000", "nan", "inf", "-1GB", "2PB"):
        with pytest.raises(mmdedup.ParameterError):
            parse_size(bad)


def test_ray_engine_matches_local(corpus: Path, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        cfg = mmdedup.DedupConfig(threshold=0.7)
        dedup_files([str(corpus)], tmp_path / "local", config=cfg, memory="4KB")
        dedup_files([str(corpus)], tmp_path / "ray", config=cfg, memory="4KB", engine="ray")
    finally:
        ray.shutdown()
    assert files(tmp_path / "local") == files(tmp_path / "ray")


def test_incremental_run_equals_full_run(corpus: Path, tmp_path: Path) -> None:
    cfg = mmdedup.DedupConfig(threshold=0.7)
    old = tmp_path / "old"
    new = tmp_path / "new"
    old.mkdir()
    new.mkdir()
    for p in sorted(corpus.iterdir()):
        (old if int(p.stem[-1]) < 3 else new).joinpath(p.name).write_bytes(p.read_bytes())
    kept = {"memory": "4KB", "keep_work_dir": True}
    dedup_files([str(old)], tmp_path / "a", config=cfg, id_column="id", **kept)
    inc = dedup_files(
        [str(new)], tmp_path / "b", config=cfg, id_column="id", index=tmp_path / "a", **kept
    )
    full = dedup_files([str(corpus)], tmp_path / "full", config=cfg, id_column="id", memory="4KB")
    b = pl.read_parquet(tmp_path / "b" / "clusters.parquet")
    f = pl.read_parquet(tmp_path / "full" / "clusters.parquet").filter(
        pl.col("id").is_in(b["id"].implode())
    )
    assert b.select("id", "cluster", "keep", "status").equals(
        f.select("id", "cluster", "keep", "status")
    )
    assert inc["counts"]["documents"] == b.height
    assert inc["index"]["documents"] == full["counts"]["documents"] - b.height
    # Output shards hold only the new documents that survive.
    assert sorted(p.name for p in (tmp_path / "b").glob("part-*")) == sorted(
        p.name for p in new.iterdir()
    )
    # The new run is an index for the next one: nothing new survives against it twice.
    again = dedup_files([str(new)], tmp_path / "c", config=cfg, memory="4KB", index=tmp_path / "b")
    assert again["counts"]["kept"] == 0


def test_index_must_match_signature_parameters(corpus: Path, tmp_path: Path) -> None:
    dedup_files([str(corpus)], tmp_path / "a", config=mmdedup.DedupConfig(), keep_work_dir=True)
    with pytest.raises(mmdedup.ParameterError, match="ngram"):
        dedup_files(
            [str(corpus)], tmp_path / "b", config=mmdedup.DedupConfig(ngram=3), index=tmp_path / "a"
        )
    with pytest.raises(mmdedup.InputError, match="not the output"):
        dedup_files([str(corpus)], tmp_path / "c", config=mmdedup.DedupConfig(), index=tmp_path)


def test_index_of_an_older_format_is_refused(corpus: Path, tmp_path: Path) -> None:
    # A work directory from before the native MinHash scheme changed (formats 1 and 2) holds
    # signatures that cannot be compared with new ones: refused, for --index and --resume.
    dedup_files([str(corpus)], tmp_path / "a", config=mmdedup.DedupConfig(), keep_work_dir=True)
    manifest = tmp_path / "a" / ".mmdedup-work" / "manifest.json"
    plan = json.loads(manifest.read_text())
    assert plan["version"] == 3
    plan["version"] = 2
    manifest.write_text(json.dumps(plan))
    with pytest.raises(mmdedup.ParameterError, match=r"format 2.*not comparable"):
        dedup_files(
            [str(corpus)], tmp_path / "b", config=mmdedup.DedupConfig(), index=tmp_path / "a"
        )
    with pytest.raises(mmdedup.InputError, match=r"format 2.*drop --resume"):
        dedup_files([str(corpus)], tmp_path / "a", config=mmdedup.DedupConfig(), resume=True)


def test_drop_in_stages_for_other_pipelines() -> None:
    from mmdedup.stages import add_band_keys, add_signatures

    texts = ["the same words in the same order", "the same words in the same order!", None]
    cfg = mmdedup.DedupConfig(num_perm=8, ngram=2)
    t = add_band_keys(add_signatures(pa.table({"text": texts}), config=cfg), bands=4, rows=2)
    df = add_signatures(pl.DataFrame({"text": texts}), config=cfg)
    d = add_signatures({"text": np.array(texts, dtype=object)}, config=cfg)
    want = mmdedup.minhash(texts[:2], num_perm=8, ngram=2)
    assert t["minhash"].to_pylist()[:2] == want.tolist() and t["minhash"][2].as_py() is None
    assert df["minhash"].to_list()[:2] == want.tolist()
    assert (d["minhash"][:2] == want).all()
    keys = t["band_keys"].to_pylist()
    assert keys[0] == keys[1] and len(keys[0]) == 4 and keys[2] is None
    for method in ("simhash", "exact"):
        out = add_signatures(pa.table({"text": texts}), config=mmdedup.DedupConfig(method=method))  # type: ignore[arg-type]
        assert out[method][0] == out[method][1] and out[method][2].as_py() is None


def test_ray_data_map_batches() -> None:
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    from mmdedup.stages import add_signatures

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        ds = ray.data.from_arrow(
            pa.table({"text": [f"document number {i} with words" for i in range(100)]})
        )
        out = ds.map_batches(
            add_signatures,
            batch_format="pyarrow",
            fn_kwargs={"config": mmdedup.DedupConfig(num_perm=16)},
        )
        rows = out.take_all()
    finally:
        ray.shutdown()
    assert len(rows) == 100 and len(rows[0]["minhash"]) == 16


def test_fsspec_urls_in_and_out(corpus: Path, tmp_path: Path) -> None:
    import fsspec

    mem = fsspec.filesystem("memory")
    for p in sorted(corpus.iterdir()):
        mem.pipe_file(f"/in-{tmp_path.name}/data/{p.name}", p.read_bytes())
    cfg = mmdedup.DedupConfig(threshold=0.7)
    local = dedup_files([str(corpus)], tmp_path / "local", config=cfg, id_column="id")
    remote = dedup_files(
        [f"memory://in-{tmp_path.name}/data/*"],
        f"memory://out-{tmp_path.name}",
        config=cfg,
        id_column="id",
        work_dir=tmp_path / "w",
    )
    assert remote["counts"] == local["counts"]
    for p in sorted((tmp_path / "local").iterdir()):
        if p.is_file() and p.name != "summary.json":
            assert mem.cat_file(f"/out-{tmp_path.name}/{p.name}") == p.read_bytes(), p.name
