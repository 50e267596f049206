"""Synthetic corpus with near-duplicates planted at known rates, at any size.

Documents are paragraphs of words drawn from a Zipf-like vocabulary (about 1 KB each by
default). A share of documents are copies of an earlier document, changed in one of four ways:

- ``exact``: the same text;
- ``edit``: a fraction of words replaced;
- ``insert``: a new paragraph inserted;
- ``shuffle``: the paragraphs in another order.

Each row records what it is (``dup_of``: the id of the source, ``kind``), so recall can be
measured. Output: Parquet shards ``part-00000.parquet`` ... with columns ``id``, ``text``,
``dup_of``, ``kind``.

    python benches/gen_corpus.py OUTDIR --docs 1000000 [--dup-rate 0.1] [--shard-docs 100000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

KINDS = ("exact", "edit", "insert", "shuffle")


def vocabulary(rng: np.random.Generator, size: int) -> np.ndarray:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(2, 10, size=size)
    return np.array(["".join(rng.choice(letters, n)) for n in lengths], dtype=object)


class Generator:
    def __init__(self, seed: int, vocab: int = 50_000, doc_words: int = 170) -> None:
        self.rng = np.random.default_rng(seed)
        self.vocab = vocabulary(self.rng, vocab)
        ranks = np.arange(1, vocab + 1, dtype=np.float64)
        p = 1.0 / ranks**1.05
        self.cdf = np.cumsum(p / p.sum())
        self.doc_words = doc_words

    def words(self, n: int) -> np.ndarray:
        idx = np.searchsorted(self.cdf, self.rng.random(n))
        return self.vocab[np.minimum(idx, len(self.vocab) - 1)]

    def documents(self, n: int) -> list[list[str]]:
        """``n`` new documents as paragraph lists; words for all of them are drawn at once."""
        lengths = self.rng.integers(self.doc_words // 2, self.doc_words * 3 // 2, size=n)
        words = self.words(int(lengths.sum())).tolist()
        para = self.rng.integers(30, 70, size=n)
        docs, pos = [], 0
        for length, step in zip(lengths.tolist(), para.tolist(), strict=True):
            w = words[pos : pos + length]
            pos += length
            docs.append([" ".join(w[i : i + step]) for i in range(0, length, step)])
        return docs

    def variant(self, paras: list[str], kind: str, edit_rate: float) -> list[str]:
        if kind == "exact":
            return paras
        if kind == "edit":
            out = []
            for p in paras:
                w = np.array(p.split(), dtype=object)
                hit = self.rng.random(len(w)) < edit_rate
                w[hit] = self.words(int(hit.sum()))
                out.append(" ".join(w))
            return out
        if kind == "insert":
            pos = int(self.rng.integers(0, len(paras) + 1))
            new = " ".join(self.words(int(self.rng.integers(10, 30))))
            return [*paras[:pos], new, *paras[pos:]]
        order = self.rng.permutation(len(paras))
        return [paras[i] for i in order]


def generate(
    out: Path, docs: int, dup_rate: float, shard_docs: int, seed: int, edit_rate: float
) -> None:
    g = Generator(seed)
    out.mkdir(parents=True, exist_ok=True)
    # Sources of duplicates are kept for a while so copies can land in later shards too.
    pool: list[tuple[str, list[str]]] = []
    t0 = time.perf_counter()
    for shard, start in enumerate(range(0, docs, shard_docs)):
        ids, texts, dup_of, kinds = [], [], [], []
        end = min(start + shard_docs, docs)
        fresh = iter(g.documents(end - start))
        for i in range(start, end):
            doc_id = f"d{i:010d}"
            if pool and g.rng.random() < dup_rate:
                src_id, paras = pool[int(g.rng.integers(0, len(pool)))]
                kind = KINDS[int(g.rng.integers(0, len(KINDS)))]
                paras = g.variant(paras, kind, edit_rate)
                dup_of.append(src_id)
                kinds.append(kind)
            else:
                paras = next(fresh)
                dup_of.append(None)
                kinds.append(None)
                if len(pool) < 20_000:
                    pool.append((doc_id, paras))
                else:
                    pool[int(g.rng.integers(0, len(pool)))] = (doc_id, paras)
            ids.append(doc_id)
            texts.append("\n\n".join(paras))
        table = pa.table(
            {
                "id": ids,
                "text": texts,
                "dup_of": pa.array(dup_of, pa.string()),
                "kind": pa.array(kinds, pa.string()),
            }
        )
        pq.write_table(table, out / f"part-{shard:05d}.parquet", row_group_size=20_000)
        print(f"shard {shard}: {end:,} docs, {time.perf_counter() - t0:.0f} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("out", type=Path)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--dup-rate", type=float, default=0.1)
    ap.add_argument(
        "--edit-rate", type=float, default=0.03, help="share of words replaced by `edit`"
    )
    ap.add_argument("--shard-docs", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    generate(a.out, a.docs, a.dup_rate, a.shard_docs, a.seed, a.edit_rate)


if __name__ == "__main__":
    main()
