"""The on-disk partitioned Hamming search returns exactly the in-memory search's edges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from mmdedup import _core
from mmdedup.runs.images.hamming_disk import (
    BYTES_PER_HASH,
    partitioned_neighbours,
    stream_neighbours,
)


def planted(rng: np.random.Generator, n: int, low_bits: int = 64) -> npt.NDArray[np.uint64]:
    """Random hashes (only ``low_bits`` of them random: skewed partitions), near copies with 1-10
    bits flipped and exact copies."""
    base = rng.integers(0, 2**63, size=n, dtype=np.uint64) * np.uint64(2) + rng.integers(
        0, 2, size=n, dtype=np.uint64
    )
    if low_bits < 64:
        base &= np.uint64((1 << low_bits) - 1)
    near = base[rng.integers(0, n, size=n // 3)].copy()
    for row in range(len(near)):
        for bit in rng.choice(64, size=int(rng.integers(1, 11)), replace=False):
            near[row] ^= np.uint64(1) << np.uint64(bit)
    same = base[rng.integers(0, n, size=n // 20)]
    values = np.concatenate([base, near, same])
    return values[rng.permutation(len(values))]


def in_memory(
    values: npt.NDArray[np.uint64], skip: npt.NDArray[np.bool_], k: int
) -> tuple[set[tuple[int, int]], list[tuple[int, int]]]:
    eq, nr = _core.hamming_neighbours(values, skip, k=k)
    return {tuple(e) for e in eq.tolist()}, [tuple(e) for e in nr.tolist()]


@pytest.mark.parametrize(("k", "low_bits"), [(0, 64), (3, 64), (8, 64), (8, 20), (12, 64)])
def test_partitioned_equals_in_memory(tmp_path: Path, k: int, low_bits: int) -> None:
    rng = np.random.default_rng(k + low_bits)
    values = planted(rng, 3000, low_bits)
    skip = rng.random(len(values)) < 0.02
    path = tmp_path / "hashes.npy"
    np.save(path, values)
    mapped = np.load(path, mmap_mode="r")
    # A budget of ~300 hashes: dozens of partitions, split further where keys are skewed.
    eq, nr = partitioned_neighbours(
        mapped, max_distance=k, memory=300 * BYTES_PER_HASH, skip=skip, work_dir=tmp_path
    )
    want_eq, want_nr = in_memory(values, skip, k)
    assert {tuple(e) for e in eq.tolist()} == want_eq
    assert len(eq) == len(want_eq)  # no equal edge twice
    assert [tuple(e) for e in nr.tolist()] == want_nr  # same pairs, same order, none twice
    assert len(want_nr) > 0 or k == 0
    assert list(tmp_path.iterdir()) == [path]  # partition files removed


def test_one_partition_when_the_budget_allows(tmp_path: Path) -> None:
    values = planted(np.random.default_rng(1), 500)
    eq, nr = partitioned_neighbours(values, max_distance=6, work_dir=tmp_path)
    want_eq, want_nr = in_memory(values, np.zeros(len(values), np.bool_), 6)
    assert {tuple(e) for e in eq.tolist()} == want_eq
    assert [tuple(e) for e in nr.tolist()] == want_nr


def test_streamed_edges_are_the_returned_ones(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    values = planted(rng, 2000)
    skip = rng.random(len(values)) < 0.02
    calls: list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]] = []
    stream_neighbours(
        values,
        lambda eq, nr: calls.append((eq, nr)),
        max_distance=6,
        memory=200 * BYTES_PER_HASH,
        skip=skip,
        work_dir=tmp_path,
    )
    assert len(calls) > 1  # one call per searched partition, not one at the end
    eq = np.concatenate([c[0] for c in calls])
    nr = np.concatenate([c[1] for c in calls])
    want_eq, want_nr = in_memory(values, skip, 6)
    assert {tuple(e) for e in eq.tolist()} == want_eq and len(eq) == len(want_eq)
    assert sorted(tuple(e) for e in nr.tolist()) == want_nr
    assert list(tmp_path.iterdir()) == []
