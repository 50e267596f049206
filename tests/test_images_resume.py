"""``mmdedup images`` as a restartable run: kill -9 after any unit, then ``--resume``."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mmdedup.runs import images_files as run_images
from mmdedup.runs.images import hasher as images_cli
from PIL import Image


def _picture(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    small = rng.integers(0, 256, size=(h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((w, h), Image.Resampling.BILINEAR)


def _encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    return buf.getvalue()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five image files, a Parquet shard of five rows and a tar shard of four images (plus a
    JSON member), with near-duplicates across them and one broken image."""
    rng = np.random.default_rng(21)
    pics = [_picture(rng, 160, 120) for _ in range(4)]
    src = tmp_path_factory.mktemp("images") / "in"
    src.mkdir()
    for i, p in enumerate(pics[:3]):
        p.save(src / f"p{i}.png")
    pics[0].resize((80, 60)).save(src / "p0-small.jpg", quality=80)
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    blobs = [_encode(p, "JPEG") for p in pics] + [_encode(pics[1].resize((120, 90)), "PNG")]
    pq.write_table(  # two row groups: 3 and 2 rows
        pa.table({"key": [f"r{i}" for i in range(5)], "jpg": blobs}),
        src / "shard.parquet",
        row_group_size=3,
    )
    with tarfile.open(src / "shard.tar", "w") as tf:
        members = [(f"{i:03d}.jpg", _encode(p, "JPEG")) for i, p in enumerate(pics)]
        for name, blob in [*members[:2], ("001.json", b"{}"), *members[2:]]:
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tf.addfile(info, io.BytesIO(blob))
    return src


ARGS = ["-k", "6", "--batch-size", "2", "-q"]


@pytest.fixture(scope="module")
def clean(corpus: Path) -> Path:
    """An uninterrupted run."""
    out = corpus.parent / "clean"
    done = cli(str(corpus), *ARGS, "-o", str(out))
    assert done.returncode == 0, done.stderr
    return out


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mmdedup", "images", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.mark.parametrize(
    "unit",
    [
        "hash-files-000000",
        "hash-files-000002",
        "hash-parquet-000000-000000-000001",  # the second batch of the first row group
        "hash-parquet-000000-000001-000000",
        "hash-tar-000000-000000",
        "tar-000000",
        "clusters",
    ],
)
def test_kill_and_resume_is_byte_identical(
    corpus: Path, clean: Path, tmp_path: Path, unit: str
) -> None:
    out = tmp_path / "x"
    killed = cli(str(corpus), *ARGS, "-o", str(out), env={"MMDEDUP_CRASH_AFTER": unit})
    assert killed.returncode == -9, killed.stderr
    assert not (out / "summary.json").exists()
    resumed = cli(str(corpus), *ARGS, "-o", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert (out / "clusters.parquet").read_bytes() == (clean / "clusters.parquet").read_bytes()
    s1 = json.loads((out / "summary.json").read_text())
    s2 = json.loads((clean / "summary.json").read_text())
    assert s1["counts"] == s2["counts"] and s1["counts"]["images"] == 14
    assert s1["counts"]["errors"] == 1 and s1["counts"]["removed"] > 0


def test_resume_with_other_parameters_is_refused(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "x"
    killed = cli(
        str(corpus), *ARGS, "-o", str(out), env={"MMDEDUP_CRASH_AFTER": "hash-files-000000"}
    )
    assert killed.returncode == -9
    for other, what in (
        (["-k", "4"], "max_distance was 6, now 4"),
        (["--method", "dhash"], "method was 'phash', now 'dhash'"),
        (["--batch-size", "3"], "batch was 2, now 3"),
    ):
        refused = cli(str(corpus), *ARGS, *other, "-o", str(out), "--resume")
        assert refused.returncode != 0
        assert "other inputs or parameters" in refused.stderr and what in refused.stderr, (
            refused.stderr
        )


def test_done_units_are_not_hashed_again(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    killed = cli(
        str(corpus), *ARGS, "-o", str(out), env={"MMDEDUP_CRASH_AFTER": "hash-tar-000000-000000"}
    )
    assert killed.returncode == -9
    hashed: list[int] = []
    real = images_cli.image_hashes

    def counting(images: Any, **kw: Any) -> pa.Table:
        t = real(images, **kw)
        hashed.append(t.num_rows)
        return t

    monkeypatch.setattr(images_cli, "image_hashes", counting)
    summary = run_images([str(corpus)], out, max_distance=6, batch_size=2, resume=True)
    # 5 files, 5 Parquet rows and the tar's first 2 members were done: only 2 members are left.
    assert hashed == [2]
    assert summary["counts"]["images"] == 14


def test_changed_inputs_refuse_resume(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(3)
    for i in range(3):
        _picture(rng, 64, 48).save(src / f"p{i}.png")
    out = tmp_path / "out"
    killed = cli(str(src), "-q", "-o", str(out), env={"MMDEDUP_CRASH_AFTER": "hash-files-000000"})
    assert killed.returncode == -9
    (src / "p1.png").write_bytes((src / "p1.png").read_bytes() + b"\0")
    refused = cli(str(src), "-q", "-o", str(out), "--resume")
    assert refused.returncode != 0
    assert "image files: 0 new, 0 gone, 1 of another size" in refused.stderr, refused.stderr
    # Without --resume the old work is cleared and the run starts again.
    assert run_images([str(src)], out)["counts"]["images"] == 3


def test_results_do_not_depend_on_the_batch_size(corpus: Path, tmp_path: Path) -> None:
    run_images([str(corpus)], tmp_path / "a", batch_size=1)
    run_images([str(corpus)], tmp_path / "b")
    a = pq.read_table(tmp_path / "a" / "clusters.parquet")
    b = pq.read_table(tmp_path / "b" / "clusters.parquet")
    assert a.equals(b)


@pytest.mark.parametrize(
    "unit", [None, "search", "cc-large-000-00003", "cc-final-00001", "clusters"]
)
def test_on_disk_search_resumes_byte_identical(
    corpus: Path, clean: Path, tmp_path: Path, unit: str | None
) -> None:
    """``--memory 1`` forces the on-disk search and distributed components: killed after any of
    their units and resumed, the output is the in-memory run's."""
    out = tmp_path / "x"
    if unit is not None:
        killed = cli(
            str(corpus), *ARGS, "--memory", "1B", "-o", str(out), env={"MMDEDUP_CRASH_AFTER": unit}
        )
        assert killed.returncode == -9, killed.stderr
        assert not (out / "summary.json").exists()
    done = cli(
        str(corpus), *ARGS, "--memory", "1B", "-o", str(out), *(["--resume"] if unit else [])
    )
    assert done.returncode == 0, done.stderr
    assert (out / "clusters.parquet").read_bytes() == (clean / "clusters.parquet").read_bytes()
    s1 = json.loads((out / "summary.json").read_text())
    s2 = json.loads((clean / "summary.json").read_text())
    assert s1["counts"] == s2["counts"]
    assert s1["search"]["mode"] == "partitioned" and s2["search"] == {"mode": "memory"}
    assert s1["search"]["components"] == "distributed"
    assert not (out / ".mmdedup-work" / "search").exists()  # removed once the output is written


def test_pdq_is_searched_in_memory_under_any_budget(corpus: Path, tmp_path: Path) -> None:
    small = run_images([str(corpus)], tmp_path / "a", method="pdq", memory=1)
    big = run_images([str(corpus)], tmp_path / "b", method="pdq")
    assert small["search"] == big["search"] == {"mode": "memory"}
    a = (tmp_path / "a" / "clusters.parquet").read_bytes()
    assert a == (tmp_path / "b" / "clusters.parquet").read_bytes()


def test_memory_budget_is_parsed(corpus: Path, tmp_path: Path) -> None:
    refused = cli(str(corpus), *ARGS, "--memory", "lots", "-o", str(tmp_path / "x"))
    assert refused.returncode != 0 and "cannot read the size 'lots'" in refused.stderr


def test_ray_engine_matches_local(corpus: Path, clean: Path, tmp_path: Path) -> None:
    """Batches of files, row groups and the tar shard as Ray tasks: the same bytes."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = run_images(
            [str(corpus)], tmp_path / "ray", max_distance=6, batch_size=2, engine="ray"
        )
    finally:
        ray.shutdown()
    got = (tmp_path / "ray" / "clusters.parquet").read_bytes()
    assert got == (clean / "clusters.parquet").read_bytes()
    assert summary["counts"]["images"] == 14


def test_engine_options_of_images(corpus: Path, tmp_path: Path) -> None:
    refused = cli(str(corpus), *ARGS, "-o", str(tmp_path / "x"), "--address", "ray://h:1")
    assert refused.returncode == 2 and "--address" in refused.stderr
