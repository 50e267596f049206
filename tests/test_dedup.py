from __future__ import annotations

import random

import mmdedup
import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from conftest import edit, random_doc


def corpus(rng: random.Random, originals: int = 200, dups: int = 100) -> list[str | None]:
    docs: list[str | None] = [random_doc(rng, 120) for _ in range(originals)]
    for _ in range(dups):
        docs.append(edit(rng, str(docs[rng.randrange(originals)]), 2))
    docs += [None, "", "  ...  "]
    rng.shuffle(docs)
    return docs


def partition(labels: list[int | None], key: list[str | None]) -> set[frozenset[str | None]]:
    groups: dict[int, set[str | None]] = {}
    for lab, k in zip(labels, key, strict=True):
        if lab is not None:
            groups.setdefault(lab, set()).add(k)
    return {frozenset(g) for g in groups.values()}


def test_dedup_polars_and_arrow_agree(rng: random.Random) -> None:
    docs = corpus(rng)
    df = pl.DataFrame({"text": docs, "i": range(len(docs))})
    out_pl = mmdedup.dedup(df, threshold=0.7)
    out_pa = mmdedup.dedup(df.to_arrow(), threshold=0.7)
    assert isinstance(out_pa, pa.Table)
    assert out_pl["cluster"].to_list() == out_pa["cluster"].to_pylist()
    assert out_pl["keep"].to_list() == out_pa["keep"].to_pylist()
    assert out_pl.columns == ["text", "i", "cluster", "keep"]
    # Near-duplicates planted with 2 edits out of 120 words are found (J ≈ 0.85 with 5-grams).
    assert (~out_pl["keep"]).sum() >= 90
    # Every cluster keeps exactly one member.
    kept = (
        out_pl.filter(pl.col("cluster").is_not_null()).group_by("cluster").agg(pl.col("keep").sum())
    )
    assert (kept["keep"] == 1).all()


def test_nulls_and_empty_texts_are_never_duplicates() -> None:
    df = pl.DataFrame({"text": [None, None, "", "", "!!", "real text here"]})
    for method in ("minhash", "simhash", "exact"):
        out = mmdedup.dedup(df, method=method)
        assert out["cluster"].null_count() == 6
        assert out["keep"].all()


def test_order_and_threads_do_not_change_clusters(rng: random.Random) -> None:
    docs = corpus(rng)
    base = mmdedup.dedup(pl.DataFrame({"text": docs}), threshold=0.7)
    perm = list(range(len(docs)))
    rng.shuffle(perm)
    shuffled = [docs[i] for i in perm]
    mmdedup.set_num_threads(1)
    other = mmdedup.dedup(pl.DataFrame({"text": shuffled}), threshold=0.7)
    a = partition(base["cluster"].to_list(), docs)
    b = partition(other["cluster"].to_list(), shuffled)
    assert a == b


@pytest.mark.parametrize("method", ["minhash", "simhash", "exact"])
def test_methods_find_exact_copies(method: str, rng: random.Random) -> None:
    docs = [random_doc(rng, 80) for _ in range(50)]
    docs += [d.upper() + "!" for d in docs[:10]]
    out = mmdedup.dedup(pl.DataFrame({"text": docs}), method=method)
    assert out["keep"].to_list() == [True] * 50 + [False] * 10
    assert out["cluster"].to_list()[50:] == list(range(10))


def test_keep_rules() -> None:
    text = "the same words in the same order every time"
    df = pl.DataFrame(
        {
            "text": [text, text + " and more", text.upper(), "unrelated"],
            "score": [0.5, None, 0.9, 0.1],
        }
    )
    assert mmdedup.dedup(df, method="minhash", threshold=0.5)["keep"].to_list() == [
        True,
        False,
        False,
        True,
    ]
    assert mmdedup.dedup(df, keep="longest", threshold=0.5)["keep"].to_list() == [
        False,
        True,
        False,
        True,
    ]
    assert mmdedup.dedup(df, keep="max:score", threshold=0.5)["keep"].to_list() == [
        False,
        False,
        True,
        True,
    ]
    assert mmdedup.dedup(df, keep="min:score", threshold=0.5)["keep"].to_list() == [
        True,
        False,
        False,
        True,
    ]
    with pytest.raises(mmdedup.ParameterError, match="keep"):
        mmdedup.dedup(df, keep="best")
    with pytest.raises(mmdedup.InputError, match="no column 'nope'"):
        mmdedup.dedup(df, keep="max:nope")


def test_verification_rejects_pairs_below_threshold() -> None:
    # With 60 bands of 2 rows nearly every pair here becomes a candidate; verification decides.
    words = [f"w{i}" for i in range(400)]
    a = " ".join(words[:300])
    b = " ".join(words[50:350])
    c = " ".join(words[100:400])
    df = pl.DataFrame({"text": [a, b, c]})
    loose = mmdedup.dedup(df, threshold=0.3, ngram=1, verify="none", bands=60, rows=2)
    strict = mmdedup.dedup(df, threshold=0.55, ngram=1, verify="jaccard", bands=60, rows=2)
    assert loose["cluster"].to_list() == [0, 0, 0]
    # J(a, b) = J(b, c) = 250/350 ≈ 0.71 ≥ 0.55, J(a, c) = 200/400 = 0.5: a and c are still
    # joined through b (clusters are transitive), but no edge a-c was accepted directly.
    assert strict["cluster"].to_list() == [0, 0, 0]
    strict = mmdedup.dedup(df, threshold=0.75, ngram=1, verify="jaccard", bands=60, rows=2)
    assert strict["cluster"].to_list() == [None, None, None]


def test_parameter_errors() -> None:
    df = pl.DataFrame({"text": ["a"]})
    with pytest.raises(mmdedup.ParameterError, match="threshold"):
        mmdedup.dedup(df, threshold=1.2)
    with pytest.raises(mmdedup.ParameterError, match="num_perm"):
        mmdedup.dedup(df, bands=20, rows=10)
    with pytest.raises(mmdedup.InputError, match="no column 'body'"):
        mmdedup.dedup(df, "body")
    with pytest.raises(ValueError):
        mmdedup.dedup(df, method="suffix-array")


def test_choose_keep_handles_nan() -> None:
    labels = np.array([0, 0, 0, -1])
    key = np.array([np.nan, 2.0, 2.0, 5.0])
    assert mmdedup.choose_keep(labels, ("max", "x"), key).tolist() == [False, True, False, True]
