"""``mmdedup images --crops``: crops matched by region hashes, end to end."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import mmdedup
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mmdedup.runs import images_files
from PIL import Image, ImageDraw

CUTS = {"left": (1, 0, 0, 0), "top": (0, 1, 0, 0), "corner": (1, 1, 0, 0), "right": (0, 0, 1, 0)}


def _photo(seed: int, w: int = 480, h: int = 360) -> Image.Image:
    """A photo-like picture: smooth colour fields at three scales and a dozen shapes on them."""
    rng = np.random.default_rng(seed)
    acc = np.zeros((h, w, 3))
    for cells, amp in ((3, 1.0), (8, 0.6), (24, 0.3)):
        small = (rng.random((cells * h // w + 1, cells, 3)) * 255).astype(np.uint8)
        layer = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
        acc += amp * np.asarray(layer, dtype=np.float64)
    img = Image.fromarray((acc / acc.max() * 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x, y, s = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(15, 70))
        fill = tuple(int(c) for c in rng.integers(0, 256, 3))
        box = (x, y, x + s, y + int(s * rng.uniform(0.5, 1.5)))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
    return img


def _cut(img: Image.Image, side: str, f: float) -> Image.Image:
    w, h = img.size
    left, top, right, _ = CUTS[side]
    return img.crop((int(w * f) * left, int(h * f) * top, w - int(w * f) * right, h))


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three pictures with 10, 20 and 30% crops of each from four sides (files), eight unrelated
    pictures, and a Parquet shard with one more crop of each of the three."""
    src = tmp_path_factory.mktemp("crops") / "in"
    src.mkdir()
    for i in range(3):
        pic = _photo(i)
        pic.save(src / f"p{i}.png")
        for side in CUTS:
            for f in (0.1, 0.2, 0.3):
                (src / f"p{i}-{side}-{int(f * 100)}.jpg").write_bytes(_jpeg(_cut(pic, side, f)))
    for i in range(100, 108):
        _photo(i).save(src / f"u{i}.png")
    blobs = [_jpeg(_cut(_photo(i), "top", 0.25)) for i in range(3)]
    keys = [f"p{i}-top-25" for i in range(3)]
    pq.write_table(pa.table({"key": keys, "jpg": blobs}), src / "shard.parquet")
    return src


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mmdedup", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


ARGS = ["--crops", "--batch-size", "7", "-q"]


def _picture(key: str) -> str:
    """Which picture an image shows: ``p0`` .. ``p2``, or an unrelated ``u...``."""
    return Path(key).name.split("-")[0].split(".")[0]


def _matched(out: Path) -> tuple[float, int]:
    """The share of crops in their picture's cluster, and the clusters that mix pictures."""
    t = pq.read_table(out / "clusters.parquet").to_pylist()
    cluster_of = {_picture(r["key"]): r["cluster"] for r in t if "-" not in Path(r["key"]).name}
    crops = [r for r in t if "-" in Path(r["key"]).name]
    found = [
        r["cluster"] is not None and r["cluster"] == cluster_of[_picture(r["key"])] for r in crops
    ]
    pictures: dict[int, set[str]] = {}
    for r in t:
        if r["cluster"] is not None:
            pictures.setdefault(r["cluster"], set()).add(_picture(r["key"]))
    return float(np.mean(found)), sum(len(p) > 1 for p in pictures.values())


@pytest.fixture(scope="module")
def clean(corpus: Path) -> Path:
    out = corpus.parent / "clean"
    done = cli("images", str(corpus), *ARGS, "-o", str(out))
    assert done.returncode == 0, done.stderr
    return out


def test_crops_are_found_with_the_option_only(corpus: Path, clean: Path, tmp_path: Path) -> None:
    with_crops, mixed = _matched(clean)
    assert with_crops >= 0.8 and mixed == 0  # no unrelated picture joins a cluster
    without = images_files([corpus], tmp_path / "plain")
    assert "crops" not in without["parameters"] and without["search"] == {"mode": "memory"}
    alone, mixed = _matched(tmp_path / "plain")
    assert alone <= 0.3 and mixed == 0
    t = pq.read_table(clean / "clusters.parquet")
    plain = pq.read_table(tmp_path / "plain" / "clusters.parquet")
    assert t.num_rows == plain.num_rows == 3 * 13 + 8 + 3
    names = plain.column_names
    assert t.column_names == [
        *names[: names.index("count") + 1],
        "regions",
        "region_count",
        *names[names.index("count") + 1 :],
    ]
    assert t["count"].equals(plain["count"]) and t["hash"].equals(plain["hash"])
    assert pa.compute.min(t["regions"]).as_py() >= 1
    unrelated = [r for r in t.to_pylist() if Path(r["key"]).name.startswith("u")]
    assert all(r["status"] == "unique" and r["region_count"] == 1 for r in unrelated)
    s = json.loads((clean / "summary.json").read_text())
    assert s["parameters"]["crops"] is True and s["parameters"]["min_regions"] == 2
    assert s["parameters"]["region_method"] == "phash"
    assert s["search"]["region_only_pairs"] > 0
    assert s["search"]["regions"] == pa.compute.sum(t["regions"]).as_py()
    # The precision estimate checks pairs beyond the whole-image distance on their region hashes,
    # recomputed from the images. A removed crop is measured against its cluster's kept image,
    # which it may have joined through another crop: most, not all, agree directly (34 of 39).
    p = s["precision"]
    assert p["pairs"] == 39 and p["agreeing"] >= 0.8 * p["pairs"], p


def test_threads_do_not_change_the_results(corpus: Path, clean: Path, tmp_path: Path) -> None:
    for threads in ("1", "2"):
        out = tmp_path / threads
        done = cli("images", str(corpus), *ARGS, "--threads", threads, "-o", str(out))
        assert done.returncode == 0, done.stderr
        assert (out / "clusters.parquet").read_bytes() == (clean / "clusters.parquet").read_bytes()


@pytest.mark.parametrize(
    "unit", ["hash-files-000001", "hash-parquet-000000-000000-000000", "clusters"]
)
def test_kill_and_resume_is_byte_identical(
    corpus: Path, clean: Path, tmp_path: Path, unit: str
) -> None:
    out = tmp_path / "x"
    killed = cli("images", str(corpus), *ARGS, "-o", str(out), env={"MMDEDUP_CRASH_AFTER": unit})
    assert killed.returncode == -9, killed.stderr
    resumed = cli("images", str(corpus), *ARGS, "-o", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert (out / "clusters.parquet").read_bytes() == (clean / "clusters.parquet").read_bytes()


def test_resume_with_other_region_options_is_refused(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "x"
    env = {"MMDEDUP_CRASH_AFTER": "hash-files-000000"}
    assert cli("images", str(corpus), *ARGS, "-o", str(out), env=env).returncode == -9
    for other, what in (
        (["--min-regions", "3"], "min_regions was 2, now 3"),
        (["--region-method", "dhash"], "region_method was 'phash', now 'dhash'"),
    ):
        refused = cli("images", str(corpus), *ARGS, *other, "-o", str(out), "--resume")
        assert refused.returncode != 0 and what in refused.stderr, refused.stderr
    plain = cli("images", str(corpus), "--batch-size", "7", "-q", "-o", str(out), "--resume")
    assert plain.returncode != 0 and "crops was True, now None" in plain.stderr, plain.stderr


def test_region_search_beyond_memory_is_refused_then_resumed(
    corpus: Path, clean: Path, tmp_path: Path
) -> None:
    out = tmp_path / "x"
    refused = cli("images", str(corpus), *ARGS, "--memory", "20KB", "-o", str(out))
    assert refused.returncode == 1
    assert "--crops searches region hashes in memory" in refused.stderr, refused.stderr
    assert "--resume" in refused.stderr and not (out / "summary.json").exists()
    done = cli("images", str(corpus), *ARGS, "--memory", "64MB", "-o", str(out), "--resume")
    assert done.returncode == 0, done.stderr
    assert (out / "clusters.parquet").read_bytes() == (clean / "clusters.parquet").read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-regions", "1"], "option --min-regions does not apply without --crops"),
        (["--region-method", "dhash"], "option --region-method does not apply without --crops"),
        (["--crops", "--frames", "all"], "option --crops does not apply with --frames all"),
        (["--crops", "--method", "pdq"], "option --crops does not apply to PDQ"),
        (["--crops", "--min-regions", "0"], "--min-regions"),
    ],
)
def test_options_that_do_not_apply_are_errors(
    corpus: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    done = cli("images", str(corpus), *args, "-o", str(tmp_path / "x"))
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_api_refuses_what_does_not_apply(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(mmdedup.ParameterError, match="PDQ"):
        images_files([corpus], tmp_path / "a", crops=True, method="pdq")
    with pytest.raises(mmdedup.ParameterError, match="first frames"):
        images_files([corpus], tmp_path / "b", crops=True, frames="all")
    with pytest.raises(mmdedup.ParameterError, match="region-method"):
        images_files([corpus], tmp_path / "c", crops=True, region_method="pdq")


def test_inspect_reads_a_crops_run(clean: Path) -> None:
    r = mmdedup.inspect(clean, sample=5)
    assert r.kind == "images" and r.precision.note and "--crops" in r.precision.note
    assert "<svg" in r._repr_html_()
    done = cli("inspect", str(clean))
    assert done.returncode == 0, done.stderr
