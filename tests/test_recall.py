"""Recall at the threshold: exact verification and bands chosen for recall by default, the
on-disk shingle sets of a run, and the earlier behaviour on request."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path
from typing import Any

import mmdedup
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import edit, random_doc
from mmdedup import _core
from mmdedup.cli import main
from mmdedup.runs import shingle_sets
from mmdedup.runs.shingle_sets import SetStore, set_writer, union_sets, write_parts
from mmdedup.runs.workdir import WorkDir


def run(*args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert (result.exit_code == 0) == ok, result.output
    return result.output


def jaccard(a: str, b: str) -> float:
    x, y = set(mmdedup.shingles(a)), set(mmdedup.shingles(b))
    return len(x & y) / len(x | y)


def planted(rng: random.Random, n: int) -> tuple[list[str], list[tuple[int, int]]]:
    """``n`` documents of about 150 words, each followed by a copy with 1-3 words replaced."""
    texts, pairs = [], []
    for _ in range(n):
        doc = random_doc(rng, rng.randrange(140, 160))
        pairs.append((len(texts), len(texts) + 1))
        texts += [doc, edit(rng, doc, rng.randint(1, 3))]
    return texts, pairs


def test_defaults_verify_exactly_on_bands_chosen_for_recall() -> None:
    cfg = mmdedup.DedupConfig()
    assert cfg.verify == "jaccard"
    assert cfg.band_geometry() == (18, 5) == mmdedup.lsh_recall_params(0.8, 128)
    assert cfg.to_dict()["bands"] == 18
    b, r = cfg.band_geometry()
    assert (1 - 0.8**r) ** b <= 0.001
    # The earlier behaviour: the MinHash estimate on datasketch's bands, or explicit bands.
    assert mmdedup.DedupConfig(verify="signature").band_geometry() == (9, 13)
    assert mmdedup.DedupConfig(verify="none").band_geometry() == mmdedup.lsh_params(0.8, 128)
    assert mmdedup.DedupConfig(bands=9, rows=13).band_geometry() == (9, 13)
    assert mmdedup.DedupConfig(method="simhash").verify == "signature"
    assert mmdedup.DedupConfig(method="exact").verify == "signature"
    assert mmdedup.lsh_recall_params(0.9) == (13, 8)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_planted_near_copies_are_all_found_by_default(seed: int) -> None:
    texts, pairs = planted(random.Random(seed), 150)
    sims = [jaccard(texts[a], texts[b]) for a, b in pairs]
    assert min(sims) < 0.85  # some pairs sit near the threshold
    out = mmdedup.dedup(pl.DataFrame({"text": texts}), seed=seed)
    cluster = out["cluster"].to_list()
    for (a, b), j in zip(pairs, sims, strict=True):
        if j >= 0.8:
            assert cluster[a] is not None and cluster[a] == cluster[b], (a, b, j)
    # Nothing else is merged: every cluster is one planted pair.
    assert out["cluster"].drop_nulls().value_counts()["count"].max() == 2


def test_earlier_default_misses_planted_copies_the_new_one_finds() -> None:
    texts, pairs = planted(random.Random(5), 150)
    df = pl.DataFrame({"text": texts})
    found = {}
    for verify in ("jaccard", "signature"):
        c = mmdedup.dedup(df, verify=verify)["cluster"].to_list()
        found[verify] = sum(c[a] is not None and c[a] == c[b] for a, b in pairs)
    assert found["jaccard"] == sum(jaccard(texts[a], texts[b]) >= 0.8 for a, b in pairs)
    assert found["signature"] < found["jaccard"]


def test_simhash_candidates_verified_on_exact_jaccard() -> None:
    rng = random.Random(3)
    base = random_doc(rng, 60)
    texts = [base, edit(rng, base, 1), edit(rng, base, 4), random_doc(rng, 60)]
    cfg = mmdedup.DedupConfig(
        method="simhash", max_distance=32, ngram=3, threshold=0.85, verify="jaccard"
    )
    sigs = mmdedup.compute_signatures(texts, cfg)
    labels, stats = mmdedup.find_clusters(sigs, cfg, texts)
    equal, near = _core.hamming_neighbours(sigs.data, sigs.empty, k=32)
    edges = np.concatenate([equal, near])
    sim = _core.jaccard(pa.array(texts), edges, ngram=3)
    assert (sim < 0.85).any() and (sim >= 0.85).any()
    assert stats == {"candidate_pairs": len(edges), "accepted_pairs": int((sim >= 0.85).sum())}
    np.testing.assert_array_equal(labels, _core.components(4, edges[sim >= 0.85]))
    with pytest.raises(mmdedup.ParameterError, match="needs the texts"):
        mmdedup.find_clusters(sigs, cfg)


def test_set_store_matches_in_memory_jaccard_in_small_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(11)
    texts, _ = planted(rng, 40)
    texts += ["", "x"]
    work = WorkDir(tmp_path)
    cuts = [0, 17, 17, 50, len(texts)]  # an empty part too
    write_parts(work, [(a, f"p{i}") for i, a in enumerate(cuts[:-1])])
    for i, (a, b) in enumerate(itertools.pairwise(cuts)):
        with set_writer(work, f"p{i}", b - a) as write:
            for s in range(a, b, 7):  # pieces
                write(_core.shingle_sets(pa.array(texts[s : min(s + 7, b)])))
    edges = np.array(
        sorted({tuple(sorted(rng.sample(range(len(texts)), 2))) for _ in range(300)}),
        dtype=np.uint32,
    )
    want = _core.jaccard(pa.array(texts), edges)
    store = SetStore(tmp_path)
    gathered: list[int] = []  # documents of each chunk
    compare = _core.set_jaccard_parts

    def counted(parts: Any, local: Any) -> Any:
        gathered.append(sum(len(starts) for _, starts, _ in parts))
        return compare(parts, local)

    monkeypatch.setattr(_core, "set_jaccard_parts", counted)
    for floor, memory in ((0, 1), (2000, 1), (1 << 14, 2**20), (1 << 14, 2**30)):
        monkeypatch.setattr(shingle_sets, "_MIN_CHUNK", floor)
        gathered.clear()
        np.testing.assert_array_equal(store.jaccard(edges, memory), want)
        # One pair per chunk at a cap of 0; the 11,590 values in several chunks at 2,000, each
        # chunk reading its documents once; in one chunk, each document once.
        if floor == 0:
            assert len(gathered) == len(edges)
        elif floor == 2000:
            assert 5 < len(gathered) < len(edges) and max(gathered) < len(texts)
        else:
            assert gathered == [len(np.unique(edges))]


def test_set_jaccard_parts_compares_sets_where_they_lie() -> None:
    rng = np.random.default_rng(5)
    sets = [np.unique(rng.integers(0, 60, rng.integers(0, 30))).astype(np.uint64) for _ in range(9)]
    sets[3] = sets[2].copy()  # equal sets
    values = np.concatenate(sets)
    offsets = np.concatenate([[0], np.cumsum([len(x) for x in sets])]).astype(np.uint64)
    edges = np.array([[0, 1], [2, 3], [4, 8], [5, 5], [7, 0], [6, 2]], dtype=np.uint32)
    want = _core.set_jaccard(values, offsets, edges)
    # The same sets as three parts: two files' worth of values, one part with none, the sets
    # of a part in any order (here: reversed), ranges of one array shared by two parts.
    starts, lengths = offsets[:-1], np.diff(offsets)
    order = np.r_[0:4, 8:3:-1]
    parts = [
        (values, starts[:4], lengths[:4]),
        (values[:0], starts[:0], lengths[:0]),
        (values, starts[8:3:-1], lengths[8:3:-1]),
    ]
    at = np.argsort(order).astype(np.uint32)
    np.testing.assert_array_equal(_core.set_jaccard_parts(parts, at[edges]), want)
    assert want[1] == 1.0 or len(sets[2]) == 0
    with pytest.raises(
        mmdedup.ParameterError, match=r"part 0: values 0\.\.0\+\d+ pass its 5 values"
    ):
        _core.set_jaccard_parts([(values[:5], starts[:1], lengths[:1] + 98)], edges[:0])
    with pytest.raises(mmdedup.ParameterError, match="one length per start"):
        _core.set_jaccard_parts([(values, starts[:2], lengths[:1])], edges[:0])
    with pytest.raises(mmdedup.ParameterError):
        _core.set_jaccard_parts(parts[:1], edges)  # document 8 of 4


def test_edge_chunks_bound_the_distinct_documents_of_each_chunk() -> None:
    sizes = np.array([5, 1, 1, 1, 9], dtype=np.uint64)
    edges = np.array([[0, 1], [0, 2], [0, 3], [1, 2], [2, 4], [3, 4], [0, 1]], dtype=np.uint32)
    assert _core.edge_chunks(edges, sizes, cap=8).tolist() == [0, 4, 5, 6, 7]
    assert _core.edge_chunks(edges, sizes, cap=100).tolist() == [0, 7]
    assert _core.edge_chunks(edges[:0], sizes, cap=8).tolist() == [0]
    with pytest.raises(mmdedup.ParameterError, match="beyond the 5 sizes"):
        _core.edge_chunks(np.array([[0, 5]], dtype=np.uint32), sizes, cap=8)


def test_union_of_set_columns() -> None:
    a = (np.array([1, 5, 2], np.uint64), np.array([0, 2, 2, 3], np.uint64))
    b = (np.array([5, 7, 9, 2], np.uint64), np.array([0, 2, 3, 4], np.uint64))
    values, offsets = union_sets(a, b)
    assert values.tolist() == [1, 5, 7, 9, 2]
    assert offsets.tolist() == [0, 3, 4, 5]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Near-copies at the threshold spread over three shards, in shuffled order."""
    texts, _ = planted(random.Random(21), 120)
    rng = random.Random(4)
    rows = list(enumerate(texts))
    rng.shuffle(rows)
    src = tmp_path / "in"
    src.mkdir()
    for i, part in enumerate((rows[:80], rows[80:170], rows[170:])):
        table = pa.table({"id": [r[0] for r in part], "text": [r[1] for r in part]})
        pq.write_table(table, src / f"part-{i}.parquet", row_group_size=16)
    return src


def _labels(out: Path) -> list[int | None]:
    c = pl.read_parquet(out / "clusters.parquet")
    return c["cluster"].to_list()


def test_run_verifies_on_disk_sets_like_the_in_memory_dedup(corpus: Path, tmp_path: Path) -> None:
    texts = pl.concat([pl.read_parquet(p) for p in sorted(corpus.glob("*.parquet"))])
    want = mmdedup.dedup(texts)["cluster"].to_list()
    # Several partitions and verification chunks: --memory 64KB.
    for name, extra in (("big", []), ("small", ["--memory", "64KB", "--threads", "1"])):
        run("dedup", str(corpus), "-o", str(tmp_path / name), *extra)
        s = json.loads((tmp_path / name / "summary.json").read_text())
        assert s["verify"] == "jaccard" == s["parameters"]["verify"]
        assert (s["parameters"]["bands"], s["parameters"]["rows"]) == (18, 5)
        assert _labels(tmp_path / name) == want, name
    small = json.loads((tmp_path / "small" / "summary.json").read_text())
    assert small["partitions"] > 1
    run("dedup", str(corpus), "-o", str(tmp_path / "dist"), "--components", "distributed")
    assert _labels(tmp_path / "dist") == want


def test_run_keeps_the_earlier_behaviour_on_request(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "old"
    run("dedup", str(corpus), "-o", str(out), "--verify", "signature")
    s = json.loads((out / "summary.json").read_text())
    assert s["verify"] == "signature"
    assert (s["parameters"]["bands"], s["parameters"]["rows"]) == (9, 13)
    assert not (out / ".mmdedup-work" / "sets").exists()
    texts = pl.concat([pl.read_parquet(p) for p in sorted(corpus.glob("*.parquet"))])
    assert _labels(out) == mmdedup.dedup(texts, verify="signature")["cluster"].to_list()


def test_run_simhash_with_jaccard(corpus: Path, tmp_path: Path) -> None:
    texts = pl.concat([pl.read_parquet(p) for p in sorted(corpus.glob("*.parquet"))])
    for verify in ("signature", "jaccard"):
        out = tmp_path / verify
        run("dedup", str(corpus), "-o", str(out), "-m", "simhash", "--max-distance", "12",
            "--verify", verify, "--memory", "1MB")  # fmt: skip
        s = json.loads((out / "summary.json").read_text())
        assert s["verify"] == verify
        got = _labels(out)
        want = mmdedup.dedup(texts, method="simhash", max_distance=12, verify=verify)
        assert got == want["cluster"].to_list()


def test_index_sets_carry_over_and_a_setless_index_is_refused(corpus: Path, tmp_path: Path) -> None:
    files = sorted(corpus.glob("*.parquet"))
    first, second = tmp_path / "first", tmp_path / "second"
    keep = "--keep-work-dir"  # an index must keep its work directory
    run("dedup", str(files[0]), "-o", str(first), keep)
    run("dedup", str(files[1]), str(files[2]), "-o", str(second), "--index", str(first), keep)
    both = pl.concat([pl.read_parquet(p) for p in files])
    want = mmdedup.dedup(both)["keep"].to_list()[len(pl.read_parquet(files[0])) :]
    got = pl.read_parquet(second / "clusters.parquet")["keep"].to_list()
    assert got == want
    # The second run's work directory serves as the next index, its sets included.
    third = tmp_path / "third"
    run("dedup", str(files[2]), "-o", str(third), "--index", str(second))
    assert pl.read_parquet(third / "clusters.parquet")["keep"].sum() == 0
    old = tmp_path / "old"
    run("dedup", str(files[0]), "-o", str(old), "--verify", "signature", keep)
    out = run("dedup", str(files[1]), "-o", str(tmp_path / "x"), "--index", str(old), ok=False)
    assert "kept no shingle sets" in out


def test_run_is_the_same_for_any_thread_count(corpus: Path, tmp_path: Path) -> None:
    for threads in ("1", "2"):
        run("dedup", str(corpus), "-o", str(tmp_path / threads), "--threads", threads)
    a = pl.read_parquet(tmp_path / "1" / "clusters.parquet")
    assert a.equals(pl.read_parquet(tmp_path / "2" / "clusters.parquet"))
