"""Distributed connected components (large-star/small-star rounds) against union-find."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mmdedup
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmdedup import _core
from mmdedup.runs import dedup_files
from mmdedup.runs.components import components, partitions_for
from test_pipeline import cli, corpus, files  # noqa: F401  (corpus is a fixture)


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, np.ndarray]:
    """Chains, stars, many small components, random edges; with self-loops and duplicates."""
    n = draw(st.integers(1, 300))
    kind = draw(st.sampled_from(["chain", "star", "small", "random"]))
    perm = np.array(draw(st.permutations(range(n))), dtype=np.uint32)
    if kind == "chain":
        edges = np.stack([perm[:-1], perm[1:]], axis=1)
    elif kind == "star":
        edges = np.stack([np.full(n, perm[0]), perm], axis=1)
    elif kind == "small":
        size = draw(st.integers(2, 5))
        edges = np.stack([perm[:-1], perm[1:]], axis=1)
        edges = edges[np.arange(len(edges)) % size != size - 1]
    else:
        m = draw(st.integers(0, 2 * n))
        ends = draw(st.lists(st.integers(0, n - 1), min_size=2 * m, max_size=2 * m))
        edges = np.array(ends, dtype=np.uint32).reshape(-1, 2)
    extra = draw(st.lists(st.integers(0, n - 1), max_size=5))
    loops = np.array([[x, x] for x in extra], dtype=np.uint32).reshape(-1, 2)
    dups = edges[: draw(st.integers(0, len(edges)))][:, ::-1]
    edges = np.concatenate([edges.reshape(-1, 2), loops, dups]).astype(np.uint32)
    order = np.array(draw(st.permutations(range(len(edges)))), dtype=np.int64)
    return n, np.ascontiguousarray(edges[order] if len(edges) else edges)


@settings(max_examples=40, deadline=None)
@given(graphs(), st.integers(1, 7))
def test_equals_union_find(
    tmp_path_factory: pytest.TempPathFactory, g: tuple[int, np.ndarray], p: int
) -> None:
    n, edges = g
    labels, info = components(n, edges, tmp_path_factory.mktemp("cc"), partitions=p)
    assert labels.tolist() == _core.components(n, edges).tolist()
    assert info["partitions"] == p


def test_rounds_on_a_long_chain(tmp_path: Path) -> None:
    n = 5000
    perm = np.random.default_rng(0).permutation(n).astype(np.uint32)
    edges = np.stack([perm[:-1], perm[1:]], axis=1)
    labels, info = components(n, edges, tmp_path, partitions=3)
    assert (labels == 0).all()
    assert info["edges"] == n - 1 and 2 <= info["rounds"] <= 30


def test_partitions_follow_the_budget() -> None:
    assert partitions_for(1000, 1000, 2**30) == 1
    assert partitions_for(10**9, 10**9, 4 * 2**30) >= 40
    assert partitions_for(10, 10**6, 1) == 10  # never more partitions than nodes


def test_equals_union_find_as_ray_tasks(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    rng = np.random.default_rng(5)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        from mmdedup.runs.engine import ray_map_units

        each = ray_map_units(None, None)
        for t in range(3):
            n = 400
            edges = rng.integers(0, n, size=(300, 2)).astype(np.uint32)
            labels, _ = components(n, edges, tmp_path / str(t), partitions=4, each=each)
            assert labels.tolist() == _core.components(n, edges).tolist()
    finally:
        ray.shutdown()


# -- end to end ------------------------------------------------------------------------------

# Budgets small enough for several partitions of the few edges of the test corpus.
CONFIGS = [
    ("minhash", "first", "signature", "8KB"),
    ("minhash", "longest", "jaccard", "16KB"),
    ("exact", "first", "signature", "2KB"),
    ("simhash", "first", "signature", "2KB"),
]


@pytest.mark.parametrize(("method", "keep", "verify", "memory"), CONFIGS)
def test_distributed_equals_local(
    corpus: Path,  # noqa: F811
    tmp_path: Path,
    method: str,
    keep: str,
    verify: str,
    memory: str,
) -> None:
    cfg = mmdedup.DedupConfig(method=method, threshold=0.7, verify=verify)  # type: ignore[arg-type]
    a, b = (
        dedup_files(
            [str(corpus)],
            tmp_path / mode,
            config=cfg,
            id_column="id",
            keep=keep,
            memory=memory,
            components=mode,
        )
        for mode in ("local", "distributed")
    )
    assert a["components"] == {"mode": "local"}
    assert b["components"]["mode"] == "distributed" and b["components"]["partitions"] > 1
    assert files(tmp_path / "local") == files(tmp_path / "distributed")
    assert a["counts"] == b["counts"] and a["status"] == b["status"]
    assert a["counts"]["removed"] > 0


def test_auto_goes_distributed_when_union_find_does_not_fit(
    corpus: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    cfg = mmdedup.DedupConfig(threshold=0.7)
    big = dedup_files([str(corpus)], tmp_path / "big", config=cfg, memory="1GB")
    small = dedup_files([str(corpus)], tmp_path / "small", config=cfg, memory="4KB")
    assert big["components"]["mode"] == "local"
    assert small["components"]["mode"] == "distributed"
    assert files(tmp_path / "big") == files(tmp_path / "small")


def test_incremental_run_with_distributed_components(
    corpus: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    cfg = mmdedup.DedupConfig(threshold=0.7)
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    for p in sorted(corpus.iterdir()):
        (old if int(p.stem[-1]) < 3 else new).joinpath(p.name).write_bytes(p.read_bytes())
    dedup_files(
        [str(old)], tmp_path / "a", config=cfg, id_column="id", keep="longest", keep_work_dir=True
    )
    outs = {}
    for mode in ("local", "distributed"):
        outs[mode] = dedup_files(
            [str(new)],
            tmp_path / mode,
            config=cfg,
            id_column="id",
            keep="longest",
            memory="8KB",
            components=mode,
            index=tmp_path / "a",
        )
    assert files(tmp_path / "local") == files(tmp_path / "distributed")
    assert outs["local"]["counts"] == outs["distributed"]["counts"]


def test_ray_engine_distributed_equals_local_engine(
    corpus: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    ray = pytest.importorskip("ray")
    cfg = mmdedup.DedupConfig(threshold=0.7)

    def go(out: Path, **options: str) -> dict[str, Any]:
        return dedup_files(
            [str(corpus)],
            out,
            config=cfg,
            id_column="id",
            memory="8KB",
            keep="longest",
            **options,
        )

    local = go(tmp_path / "local", components="local")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        dist = go(tmp_path / "ray", engine="ray", components="distributed")
    finally:
        ray.shutdown()
    assert dist["components"]["mode"] == "distributed"
    assert files(tmp_path / "local") == files(tmp_path / "ray")
    assert local["counts"] == dist["counts"]


@pytest.mark.parametrize("unit", ["cc-large-000-00001", "cc-small-000-00002", "cc-final-00000"])
def test_kill_in_a_round_and_resume_is_byte_identical(
    corpus: Path,  # noqa: F811
    tmp_path: Path,
    unit: str,
) -> None:
    args = [str(corpus), "--id-column", "id", "-t", "0.7", "--memory", "8KB", "-q"]
    args += ["--components", "distributed", "--keep", "longest"]
    clean = cli("dedup", *args, "-o", str(tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr
    killed = cli("dedup", *args, "-o", str(tmp_path / "x"), env={"MMDEDUP_CRASH_AFTER": unit})
    assert killed.returncode == -9, killed.stderr
    assert not (tmp_path / "x" / "summary.json").exists()
    resumed = cli("dedup", *args, "-o", str(tmp_path / "x"), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert files(tmp_path / "x") == files(tmp_path / "clean")
    a = json.loads((tmp_path / "x" / "summary.json").read_text())
    b = json.loads((tmp_path / "clean" / "summary.json").read_text())
    assert a["counts"] == b["counts"] and a["components"] == b["components"]
