"""``mmdedup images`` on inputs given as fsspec URLs (an S3 server, moto's, on 127.0.0.1): a
prefix, a glob, a Parquet file of image bytes, tar shards. The results are those of the same
files read locally, byte for byte, but for the names of the inputs (their URLs)."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mmdedup.errors import InputError
from mmdedup.runs import images_files

# The S3 server and the corpus of image files, a Parquet shard and a tar shard.
from test_remote_workdir import IMAGE_KW, cli, images, s3, s3_env  # noqa: F401

BUCKET = "mmdedup-test"
PREFIX = f"s3://{BUCKET}/image-inputs"
_NAMED = ("shard", "key")  # the columns that name inputs


@pytest.fixture(scope="module")
def remote(images: Path, s3_env: dict[str, str]) -> str:  # noqa: F811
    """The corpus uploaded under ``PREFIX``, with a gzipped copy of the tar shard and a work
    directory (``.mmdedup-work``) that discovery leaves out."""
    import fsspec

    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    for f in sorted(images.iterdir()):
        fs.put_file(str(f), f"{PREFIX[5:]}/{f.name}")
    fs.pipe_file(f"{PREFIX[5:]}/.mmdedup-work/hashes/x.png", (images / "p1.png").read_bytes())
    return PREFIX


def clusters(out: Path | str, s3: Any = None) -> pa.Table:  # noqa: F811
    """``clusters.parquet`` of a run, local or on S3."""
    path = f"{out}/clusters.parquet"
    return pq.read_table(s3.open(path[5:]) if s3 is not None else path)


def renamed(table: pa.Table, old: str, new: str) -> pa.Table:
    """``table`` with ``old`` (a path prefix) in the names of its inputs spelled ``new``."""
    for name in _NAMED:
        col = [v if v is None else v.replace(old, new) for v in table[name].to_pylist()]
        at = table.column_names.index(name)
        table = table.set_column(at, table.schema.field(at), pa.array(col, pa.string()))
    return table


def same_results(local: dict[str, Any], remote: dict[str, Any]) -> None:
    for k in ("counts", "search", "parameters", "column"):
        assert local[k] == remote[k], k


@pytest.mark.parametrize(
    "options",
    [{}, {"memory": 1}, {"memory": 1, "frames": "all"}, {"memory": "200KB", "crops": True}],
)
def test_a_prefix_gives_the_local_results(
    images: Path,  # noqa: F811
    remote: str,
    tmp_path: Path,
    options: dict[str, Any],
) -> None:
    """Image files, the Parquet file and the tar shard under a prefix. A small ``memory``: the
    on-disk search, and the image objects of a batch read and hashed in pieces (``frames``
    numbered across them, region hashes with them)."""
    kw = {**IMAGE_KW, **options}
    local = images_files([str(images)], tmp_path / "local", **kw)
    got = images_files([f"{remote}/"], tmp_path / "remote", **kw)
    want = renamed(clusters(tmp_path / "local"), str(images), remote)
    assert clusters(tmp_path / "remote").equals(want, check_metadata=True)
    same_results(local, got)
    assert got["inputs"] == [f"{remote}/"]
    assert got["counts"]["removed"] > 0 and got["counts"]["errors"] == 1
    assert got["counts"]["parquet_shards"] == 1 and got["counts"]["tar_shards"] == 1
    shards = set(pq.read_table(tmp_path / "remote" / "clusters.parquet")["shard"].to_pylist())
    assert f"{remote}/shard.tar" in shards and f"{remote}/p0.png" in shards
    assert not any(".mmdedup-work" in s for s in shards)
    # The error of the broken image is the same message.
    errors = pq.read_table(tmp_path / "remote" / "clusters.parquet")["error"].to_pylist()
    assert errors == pq.read_table(tmp_path / "local" / "clusters.parquet")["error"].to_pylist()


def test_globs_single_files_and_a_remote_outdir(
    images: Path,  # noqa: F811
    remote: str,
    tmp_path: Path,
    s3: Any,  # noqa: F811
) -> None:
    """A glob of image objects with the Parquet file and a gzipped tar shard named one by one
    (given twice: counted once), OUTDIR on S3 too."""
    src = tmp_path / "src"
    shutil.copytree(images, src)
    (src / "shard.tar.gz").write_bytes(gzip.compress((src / "shard.tar").read_bytes()))
    (src / "shard.tar").unlink()
    gz = f"s3://{BUCKET}/image-inputs-gz"
    s3.put_file(str(src / "shard.tar.gz"), f"{gz[5:]}/shard.tar.gz")
    s3.put_file(str(src / "shard.parquet"), f"{gz[5:]}/shard.parquet")
    local_in = [str(src / "*.png"), str(src / "shard.parquet"), str(src / "shard.tar.gz")]
    local = images_files(local_in, tmp_path / "local", **IMAGE_KW)
    urls = [f"{remote}/*.png", f"{gz}/shard.parquet", f"{gz}/shard.tar.gz"]
    out = f"s3://{BUCKET}/image-inputs-out"
    got = images_files([*urls, f"{gz}/shard.tar.gz"], out, **IMAGE_KW)
    same_results(local, got)
    assert got["counts"]["files"] == 3 and got["counts"]["tar_shards"] == 1
    want = renamed(clusters(tmp_path / "local"), f"{src}/shard.", f"{gz}/shard.")
    want = renamed(want, str(src), remote)
    assert clusters(out, s3).equals(want, check_metadata=True)


def test_missing_urls_and_outputs_inside_an_input_prefix_are_refused(
    remote: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with pytest.raises(
        InputError, match=re.escape(f"{remote}/nope.png: no such file or directory")
    ):
        images_files([f"{remote}/nope.png"], out)
    with pytest.raises(InputError, match=r"no file matches the pattern .*image-inputs/\*\.webp"):
        images_files([f"{remote}/*.webp"], out)
    with pytest.raises(InputError, match="lies inside the input directory"):
        images_files([f"{remote}/"], f"{remote}/out")
    with pytest.raises(InputError, match="is the input directory"):
        images_files([remote], f"{remote}/")
    with pytest.raises(InputError, match=r"--work-dir .* lies inside the input directory"):
        images_files([remote], out, work_dir=f"{remote}/sub/work")
    assert not out.exists() or not any(out.iterdir())


def test_resume_with_remote_inputs(
    images: Path,  # noqa: F811
    remote: str,
    tmp_path: Path,
    s3_env: dict[str, str],  # noqa: F811
    s3: Any,  # noqa: F811
) -> None:
    """kill -9 after a unit, then ``--resume``: an uninterrupted run's ``clusters.parquet``; an
    object of another size since is refused, saying so."""
    args = ["images", f"{remote}/", "-k", "6", "--batch-size", "2", "-q"]
    ref = cli(*args, "-o", str(tmp_path / "ref"), env=s3_env)
    assert ref.returncode == 0, ref.stderr
    out = str(tmp_path / "out")
    for unit in ("hash-files-000001", "hash-parquet-000000-000001-000000", "tar-000000"):
        killed = cli(*args, "-o", out, "--overwrite", env={**s3_env, "MMDEDUP_CRASH_AFTER": unit})
        assert killed.returncode == -9, killed.stderr
        manifest = json.loads((tmp_path / "out" / ".mmdedup-work" / "manifest.json").read_text())
        assert manifest["files"][0] == [f"{remote}/broken.jpg", 14]  # URL and size
        assert manifest["tars"] == [[f"{remote}/shard.tar", (images / "shard.tar").stat().st_size]]
        done = cli(*args, "-o", out, "--resume", env=s3_env)
        assert done.returncode == 0, done.stderr
        got = (tmp_path / "out" / "clusters.parquet").read_bytes()
        assert got == (tmp_path / "ref" / "clusters.parquet").read_bytes(), unit
    killed = cli(
        *args, "-o", out, "--overwrite", env={**s3_env, "MMDEDUP_CRASH_AFTER": "tar-000000"}
    )
    assert killed.returncode == -9
    key = f"{remote[5:]}/p2.png"
    data = s3.cat_file(key)
    try:
        s3.pipe_file(key, data + b"\0")
        refused = cli(*args, "-o", out, "--resume", env=s3_env)
    finally:
        s3.pipe_file(key, data)
    assert refused.returncode == 1
    assert "image files: 0 new, 0 gone, 1 of another size" in refused.stderr, refused.stderr


def test_ray_workers_read_the_urls(images: Path, remote: str, tmp_path: Path) -> None:  # noqa: F811
    ray = pytest.importorskip("ray")
    local = images_files([str(images)], tmp_path / "local", **IMAGE_KW)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        got = images_files([f"{remote}/"], tmp_path / "ray", engine="ray", **IMAGE_KW)
    finally:
        ray.shutdown()
    same_results(local, got)
    want = renamed(clusters(tmp_path / "local"), str(images), remote)
    assert clusters(tmp_path / "ray").equals(want, check_metadata=True)


def test_inspect_reads_thumbnails_from_the_urls(
    images: Path,  # noqa: F811
    remote: str,
    tmp_path: Path,
) -> None:
    """The bytes ``inspect`` locates for each image (an object, a Parquet row, a tar member) are
    the input's, and the report shows every clustered image."""
    import tarfile

    from mmdedup.inspect import inspect
    from mmdedup.inspect.locate import image_bytes

    out = tmp_path / "out"
    images_files([f"{remote}/"], out, **IMAGE_KW)
    rows = pq.read_table(out / "clusters.parquet").to_pylist()
    got = image_bytes([(r["shard"], r["row"]) for r in rows], None)
    blobs = pq.read_table(images / "shard.parquet")["jpg"].to_pylist()
    with tarfile.open(images / "shard.tar") as tf:
        members = [tf.extractfile(m).read() for m in tf.getmembers()]  # type: ignore[union-attr]
    for r in rows:
        name = r["shard"].removeprefix(f"{remote}/")
        if name == "shard.parquet":
            want = blobs[r["row"]]
        elif name == "shard.tar":
            want = members[r["row"]]
        else:
            want = (images / name).read_bytes()
        assert got[(r["shard"], r["row"])] == want, r
    html = inspect(out, sample=20).to_html()
    assert "cannot read" not in html
    clustered = sum(r["cluster"] is not None for r in rows)
    assert clustered and html.count('<img src="data:image/') == clustered


@pytest.mark.parametrize("frames", ["first", "all"])
def test_an_object_that_cannot_be_read_is_its_rows_error(
    remote: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frames: str
) -> None:
    """An object gone between the listing and its reading: its row's ``error`` names it, and
    the other images of its batch are hashed as usual."""
    from mmdedup.runs.images import hasher

    gone = f"{remote}/p1.png"
    real = hasher.read_file

    def read(path: str) -> bytes:
        if path == gone:
            raise FileNotFoundError(path)
        return real(path)

    kw = {**IMAGE_KW, "memory": 1, "frames": frames}
    want = images_files([f"{remote}/"], tmp_path / "whole", **kw)
    monkeypatch.setattr(hasher, "read_file", read)
    got = images_files([f"{remote}/"], tmp_path / "gone", **kw)
    assert got["counts"]["errors"] == want["counts"]["errors"] + 1
    rows = {r["key"]: r for r in clusters(tmp_path / "gone").to_pylist() if r["row"] is None}
    assert rows[gone]["error"] == f"cannot read {gone}: {gone}"
    assert rows[gone]["status"] == "error"
    assert rows[f"{remote}/p0.png"]["error"] is None  # p0.png and p1.png: one batch
    assert rows[f"{remote}/p0.png"]["hash"] is not None
