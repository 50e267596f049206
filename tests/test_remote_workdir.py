"""A work directory on object storage: an S3 server (moto's, on 127.0.0.1) holds the work
directory, and a Ray cluster of several processes, none of which sees another's disk, runs the
stages. The results are byte-identical to a local run."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mmdedup
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import edit, random_doc
from mmdedup.errors import InputError, ParameterError
from mmdedup.formats import read_documents
from mmdedup.runs import dedup_files
from test_multimodal import corpus as interleaved_docs
from test_multimodal import write_obelics, write_pin_with_pictures

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

CFG = mmdedup.DedupConfig(threshold=0.7)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_env() -> Iterator[dict[str, str]]:
    """An S3 server on 127.0.0.1 with a bucket ``mmdedup-test``; the environment that reaches it (the
    variables every AWS client reads), also set in this process."""
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    import fsspec

    # moto keeps its buckets in this process, whichever server made them, and s3fs its file
    # systems (with the endpoint they were made with): each module that uses a server starts
    # from no bucket and no file system of an earlier module's server.
    reset = f"http://127.0.0.1:{port}/moto-api/reset"
    urllib.request.urlopen(urllib.request.Request(reset, method="POST"), timeout=30).close()
    s3fs_class = type(fsspec.filesystem("s3", skip_instance_cache=True))
    s3fs_class.clear_instance_cache()
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir("mmdedup-test")
    try:
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()
        s3fs_class.clear_instance_cache()


@pytest.fixture
def s3(s3_env: dict[str, str]) -> object:
    import fsspec

    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    return fs


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Four shards with near-duplicates within and across them, and exact copies."""
    rng = random.Random(7)
    base = [random_doc(rng, 60) for _ in range(80)]
    docs = base + [edit(rng, base[rng.randrange(80)], 1) for _ in range(30)] + base[:8]
    rng.shuffle(docs)
    src = tmp_path / "corpus"
    src.mkdir()
    for s in range(4):
        part = docs[s::4]
        ids = [f"s{s}-{i}" for i in range(len(part))]
        if s % 2:
            with open(src / f"part-{s}.jsonl", "w") as f:
                for i, t in zip(ids, part, strict=True):
                    f.write(json.dumps({"id": i, "text": t}) + "\n")
        else:
            pq.write_table(pa.table({"id": ids, "text": part}), src / f"part-{s}.parquet")
    return src


def files(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".mmdedup-work" not in p.parts and p.name not in _RUN_FILES
    }


# Files of a run that differ with its timing and with whether its work directory was kept.
_RUN_FILES = ("summary.json", ".mmdedup-outputs.json")


def remote_files(fs: object, url: str) -> dict[str, bytes]:
    root = url.removeprefix("s3://").rstrip("/")
    names = fs.find(root)  # type: ignore[attr-defined]
    return {
        n.removeprefix(root + "/"): fs.cat_file(n)  # type: ignore[attr-defined]
        for n in names
        if n.rsplit("/", 1)[-1] not in _RUN_FILES
    }


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mmdedup", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
        timeout=600,
    )


@pytest.mark.parametrize(
    ("method", "components"),
    [("minhash", "distributed"), ("minhash", "local"), ("simhash", "local"), ("exact", "auto")],
)
def test_remote_work_dir_equals_local(
    corpus: Path,
    tmp_path: Path,
    s3: object,
    method: str,
    components: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    cfg = mmdedup.DedupConfig(method=method, threshold=0.7)  # type: ignore[arg-type]
    kw = {"config": cfg, "id_column": "id", "memory": "4KB", "components": components}
    dedup_files([str(corpus)], tmp_path / "local", **kw)  # type: ignore[arg-type]
    url = f"s3://mmdedup-test/work-{method}-{components}"
    summary = dedup_files(
        [str(corpus)], tmp_path / "remote", work_dir=url, keep_work_dir=True, **kw
    )  # type: ignore[arg-type]
    assert files(tmp_path / "local") == files(tmp_path / "remote")
    assert summary["work_dir"]["path"] == url and summary["work_dir"]["kept"]
    held = remote_files(s3, url)
    assert ".mmdedup-workdir" in held and "manifest.json" in held
    assert any(n.startswith("done/write-") for n in held)
    if method == "minhash":
        assert any(n.startswith("signatures/") for n in held)
        assert any(n.startswith("sets/") for n in held)  # exact Jaccard verification
    if components == "distributed":
        assert any(n.startswith("components/final/") for n in held)
    # The processes' caches are gone with the run.
    assert not list((tmp_path / "tmp").glob("mmdedup-cache-*"))


def test_remote_work_dir_removed_on_success_and_refused_when_foreign(
    corpus: Path, tmp_path: Path, s3: object
) -> None:
    url = "s3://mmdedup-test/work-clean"
    summary = dedup_files([str(corpus)], tmp_path / "out", config=CFG, work_dir=url)
    assert summary["work_dir"]["kept"] is False and summary["work_dir"]["bytes"] > 0
    assert list(remote_files(s3, url)) == [".mmdedup-workdir"]  # emptied, still marked
    s3.pipe_file("mmdedup-test/photos/cat.jpg", b"not mmdedup's")  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="not created by mmdedup"):
        dedup_files(
            [str(corpus)], tmp_path / "out2", config=CFG, work_dir="s3://mmdedup-test/photos"
        )
    assert s3.cat_file("mmdedup-test/photos/cat.jpg") == b"not mmdedup's"  # type: ignore[attr-defined]
    with pytest.raises(ParameterError, match="--index"):
        dedup_files(
            [str(corpus)], tmp_path / "out3", config=CFG, work_dir=url, index=tmp_path / "out"
        )


def test_remote_work_dir_resumes_after_kill(
    corpus: Path, tmp_path: Path, s3_env: dict[str, str]
) -> None:
    """kill -9 right after a unit is marked done, then ``--resume`` from the remote work
    directory alone (a new process: nothing cached locally)."""
    common = ["--threshold", "0.7", "--id-column", "id", "--memory", "4KB"]
    assert (
        cli("dedup", str(corpus), "-o", str(tmp_path / "ref"), *common, env=s3_env).returncode == 0
    )
    url = "s3://mmdedup-test/work-resume"
    args = ["dedup", str(corpus), "-o", str(tmp_path / "out"), "--work-dir", url, *common]
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**s3_env, "TMPDIR": str(tmp)}
    for unit in ("signatures-000002", "candidates-00001", "clusters"):
        first = cli(*args, "--overwrite", env={**env, "MMDEDUP_CRASH_AFTER": unit})
        assert first.returncode == -9, first.stderr
        assert list(tmp.glob("mmdedup-cache-*")), "the killed process's cache is left"
        done = cli(*args, "--resume", env=env)
        assert done.returncode == 0, done.stderr
        assert files(tmp_path / "ref") == files(tmp_path / "out"), unit
        # The run removed its own cache and the one the killed process left.
        assert not list(tmp.glob("mmdedup-cache-*")), unit


def test_convert_and_tokenize_with_a_remote_work_dir(
    tmp_path: Path, s3_env: dict[str, str]
) -> None:
    """Shard-wise runs keep their records on S3: the local run's files, and a kill -9 after a
    shard then --resume from the object store alone gives them too."""
    import base64

    src = tmp_path / "in"
    src.mkdir()
    for n in range(3):
        rows = [
            {"text_list": [f"shard {n} doc {i} says hello"], "image_info": []} for i in range(4)
        ]
        (src / f"s{n}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ranks = tmp_path / "bytes.tiktoken"
    ranks.write_text("".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256)))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**s3_env, "TMPDIR": str(tmp)}
    tok = ["--tokenizer", str(ranks), "--pattern", "cl100k_base"]
    for command, extra in (("convert", ["--to", "obelics"]), ("tokenize", tok)):
        base = [command, str(src), *extra, "-q"]
        ref = cli(*base, "-o", str(tmp_path / f"{command}-ref"), env=env)
        assert ref.returncode == 0, ref.stderr
        url = f"s3://mmdedup-test/work-{command}"
        out = ["-o", str(tmp_path / f"{command}-out"), "--work-dir", url]
        killed = cli(*base, *out, env={**env, "MMDEDUP_CRASH_AFTER": "shard-000001"})
        assert killed.returncode == -9, killed.stderr
        done = cli(*base, *out, "--resume", env=env)
        assert done.returncode == 0, done.stderr
        assert files(tmp_path / f"{command}-ref") == files(tmp_path / f"{command}-out"), command
        assert not list(tmp.glob("mmdedup-cache-*"))


# -------------------------------------------------------------------------------------------
# mmdedup images with its work directory, or its OUTDIR, on S3.


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Image files (one broken), a Parquet shard of two row groups and a tar shard, with
    near-duplicates across them (as in ``test_images_resume``)."""
    import io
    import tarfile

    import numpy as np
    from PIL import Image

    def picture(w: int, h: int) -> Image.Image:
        small = rng.integers(0, 256, size=(h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
        return Image.fromarray(small).resize((w, h), Image.Resampling.BILINEAR)

    def encode(img: Image.Image, fmt: str) -> bytes:
        buf = io.BytesIO()
        img.save(buf, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
        return buf.getvalue()

    rng = np.random.default_rng(21)
    pics = [picture(160, 120) for _ in range(4)]
    src = tmp_path_factory.mktemp("images") / "in"
    src.mkdir()
    for i, p in enumerate(pics[:3]):
        p.save(src / f"p{i}.png")
    pics[0].resize((80, 60)).save(src / "p0-small.jpg", quality=80)
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    blobs = [encode(p, "JPEG") for p in pics] + [encode(pics[1].resize((120, 90)), "PNG")]
    pq.write_table(
        pa.table({"key": [f"r{i}" for i in range(5)], "jpg": blobs}),
        src / "shard.parquet",
        row_group_size=3,
    )
    with tarfile.open(src / "shard.tar", "w") as tf:
        for i, p in enumerate(pics):
            blob = encode(p, "JPEG")
            info = tarfile.TarInfo(f"{i:03d}.jpg")
            info.size = len(blob)
            tf.addfile(info, io.BytesIO(blob))
    return src


IMAGE_ARGS = ["-k", "6", "--batch-size", "2", "-q"]
IMAGE_KW: dict[str, Any] = {"max_distance": 6, "batch_size": 2}


@pytest.mark.parametrize("options", [{"memory": 1}, {"crops": True}])
def test_images_with_a_remote_work_dir_equals_local(
    images: Path,
    tmp_path: Path,
    s3: object,
    options: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--memory 1B``: the on-disk search, over many partitions, and components in rounds of
    units, each reading what the others wrote from the object store; ``--crops``: the region
    hashes too."""
    from mmdedup.runs import images_files

    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    kw = {**IMAGE_KW, **options}
    local = images_files([str(images)], tmp_path / "local", **kw)
    keep = "memory" in options
    url = f"s3://mmdedup-test/images-{'-'.join(options)}"
    summary = images_files(
        [str(images)], tmp_path / "remote", work_dir=url, keep_work_dir=keep, **kw
    )
    assert files(tmp_path / "local") == files(tmp_path / "remote")
    assert summary["counts"] == local["counts"] and summary["search"] == local["search"]
    assert summary["counts"]["removed"] > 0
    assert summary["work_dir"]["path"] == url and summary["work_dir"]["kept"] is keep
    held = remote_files(s3, url)
    if keep:
        assert summary["search"]["components"] == "distributed"
        assert summary["search"]["partitions"] > 1
        assert "done/cc-final-00001" in held and "done/search" in held
        assert any(n.startswith("hashes/hash-tar-") for n in held)
        assert not any(n.startswith("search/") for n in held)  # removed once written
    else:
        assert summary["search"]["region_pairs"] > 0
        assert list(held) == [".mmdedup-workdir"]  # emptied, still marked
    assert not list((tmp_path / "tmp").glob("mmdedup-cache-*"))


def test_images_resume_after_kill_from_the_object_store(
    images: Path, tmp_path: Path, s3_env: dict[str, str]
) -> None:
    """kill -9 right after a unit of each stage is marked done (hashing, the on-disk search,
    its components), then ``--resume`` in a new process with nothing cached locally."""
    small = [*IMAGE_ARGS, "--memory", "1B"]
    ref = cli("images", str(images), "-o", str(tmp_path / "ref"), *small, env=s3_env)
    assert ref.returncode == 0, ref.stderr
    url = "s3://mmdedup-test/images-resume"
    args = ["images", str(images), "-o", str(tmp_path / "out"), "--work-dir", url, *small]
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**s3_env, "TMPDIR": str(tmp)}
    for unit in ("hash-parquet-000000-000001-000000", "search", "cc-large-000-00003", "clusters"):
        first = cli(*args, "--overwrite", env={**env, "MMDEDUP_CRASH_AFTER": unit})
        assert first.returncode == -9, first.stderr
        assert not (tmp_path / "out" / "summary.json").exists()
        done = cli(*args, "--resume", env=env)
        assert done.returncode == 0, done.stderr
        assert files(tmp_path / "ref") == files(tmp_path / "out"), unit
        assert not list(tmp.glob("mmdedup-cache-*")), unit
        summary = json.loads((tmp_path / "out" / "summary.json").read_text())
        assert summary["search"]["components"] == "distributed"
        assert summary["work_dir"] == {**summary["work_dir"], "path": url, "kept": False}


def test_images_outdir_on_s3(
    images: Path, tmp_path: Path, s3: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OUTDIR on S3, the work directory local (the default) or there too: the local OUTDIR's
    files, listed in its ``.mmdedup-outputs.json``."""
    from mmdedup.runs import images_files

    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    images_files([str(images)], tmp_path / "local", **IMAGE_KW)
    want = files(tmp_path / "local")
    for name, work in (("default", None), ("remote", "s3://mmdedup-test/images-out-work")):
        out = f"s3://mmdedup-test/images-out-{name}"
        summary = images_files([str(images)], out, work_dir=work, memory=1, **IMAGE_KW)
        assert remote_files(s3, out) == want, name
        listed = json.loads(s3.cat_file(f"{out[5:]}/.mmdedup-outputs.json"))  # type: ignore[attr-defined]
        assert listed == {"outputs": ["clusters.parquet", "summary.json"], "finished": True}
        stored = json.loads(s3.cat_file(f"{out[5:]}/summary.json"))  # type: ignore[attr-defined]
        assert stored["counts"] == summary["counts"] and stored["precision"] is None
        assert stored["work_dir"]["kept"] is False
    # A second run into the same OUTDIR is refused without --overwrite.
    with pytest.raises(InputError, match="results of an earlier run"):
        images_files([str(images)], "s3://mmdedup-test/images-out-default", **IMAGE_KW)


def test_images_ray_engine_with_a_remote_work_dir(images: Path, tmp_path: Path, s3: object) -> None:
    """Hash units and the on-disk components' units as Ray tasks, each worker with a cache of
    its own: the local run's files."""
    ray = pytest.importorskip("ray")
    from mmdedup.runs import images_files

    kw = {**IMAGE_KW, "memory": 700}  # three partitions
    local = images_files([str(images)], tmp_path / "local", **kw)
    assert local["search"]["components"] == "distributed"
    url = "s3://mmdedup-test/images-ray"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = images_files(
            [str(images)], tmp_path / "ray", work_dir=url, engine="ray", keep_work_dir=True, **kw
        )
    finally:
        ray.shutdown()
    assert files(tmp_path / "local") == files(tmp_path / "ray")
    assert summary["counts"] == local["counts"] and summary["search"] == local["search"]
    held = remote_files(s3, url)
    assert "done/hash-tar-000000-000001" in held and "done/cc-final-00002" in held


# -------------------------------------------------------------------------------------------
# Interleaved documents: the same stages, with their image and paragraph partitions, on S3.


@pytest.fixture
def obelics(tmp_path: Path) -> Path:
    """Two OBELICS shards of the pages built to trigger each interleaved rule."""
    src = tmp_path / "obelics"
    src.mkdir()
    docs = interleaved_docs()
    write_obelics(src / "a.parquet", docs[:8])
    write_obelics(src / "b.parquet", docs[8:])
    return src


@pytest.fixture
def pin(tmp_path: Path) -> Path:
    """The same pages as two PIN shards, each page also showing a picture kept beside it
    (``content_image/...``, copied next to the output shards)."""
    table = read_documents(write_obelics(tmp_path / "web.parquet", interleaved_docs())).table
    return write_pin_with_pictures(table, tmp_path / "pin")


_IL = {"memory": "64KB"}  # several partitions of paragraphs, images and band keys


@pytest.mark.parametrize("layout", ["obelics", "pin"])
def test_interleaved_remote_work_dir_equals_local(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    s3: object,
    layout: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src: Path = request.getfixturevalue(layout)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    kw = {**_IL, "layout": layout}
    local = dedup_files([str(src)], tmp_path / "local", **kw)  # type: ignore[arg-type]
    url = f"s3://mmdedup-test/il-work-{layout}"
    remote = dedup_files([str(src)], tmp_path / "remote", work_dir=url, keep_work_dir=True, **kw)  # type: ignore[arg-type]
    assert local["partitions"] >= 2
    want = files(tmp_path / "local")
    assert files(tmp_path / "remote") == want
    if layout == "pin":
        assert sum(n.startswith("content_image/") for n in want) >= 10
    for key in ("documents", "images", "paragraphs", "pairs"):
        assert remote[key] == local[key], key
    assert remote["documents"]["removed"]["near_duplicate"] >= 1
    assert remote["paragraphs"]["removed"] >= 1
    assert remote["work_dir"]["path"] == url and remote["work_dir"]["kept"]
    held = remote_files(s3, url)
    assert "manifest-interleaved.json" in held and "done/write-000001" in held
    # Per-shard signature files instead of one shared memory map.
    assert "signatures/000001.npy" in held and "signatures.npy" not in held
    assert any(n.startswith("paragraphs/00001/") for n in held)
    assert not list((tmp_path / "tmp").glob("mmdedup-cache-*"))


def test_interleaved_remote_work_dir_resumes_after_kill(
    pin: Path, tmp_path: Path, s3: object, s3_env: dict[str, str]
) -> None:
    """kill -9 right after a unit of each kind of stage, then ``--resume`` in a new process
    from the object store alone: the clean run's files, image copies included."""
    common = ["--format", "pin", "--memory", "64KB", "-q"]
    ref = cli("dedup", str(pin), "-o", str(tmp_path / "ref"), *common, env=s3_env)
    assert ref.returncode == 0, ref.stderr
    url = "s3://mmdedup-test/il-resume"
    args = ["dedup", str(pin), "-o", str(tmp_path / "out"), "--work-dir", url, *common]
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**s3_env, "TMPDIR": str(tmp)}
    for unit in ("scan-000001", "candidates-00001", "paragraphs-00000", "write-000000"):
        first = cli(*args, "--overwrite", env={**env, "MMDEDUP_CRASH_AFTER": unit})
        assert first.returncode == -9, first.stderr
        done = cli(*args, "--resume", env=env)
        assert done.returncode == 0, done.stderr
        assert files(tmp_path / "ref") == files(tmp_path / "out"), unit
        assert not list(tmp.glob("mmdedup-cache-*")), unit
    # Emptied on success (still marked), and recorded in the summary.
    assert list(remote_files(s3, url)) == [".mmdedup-workdir"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["work_dir"]["path"] == url and not summary["work_dir"]["kept"]


@pytest.mark.parametrize(("layout", "work"), [("pin", "remote"), ("obelics", "default")])
def test_interleaved_outdir_on_s3(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    s3: object,
    layout: str,
    work: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """OUTDIR as a URL: the local run's files (PIN's image files uploaded beside the shards),
    each listed in .mmdedup-outputs.json; --overwrite replaces them."""
    src: Path = request.getfixturevalue(layout)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    kw = {**_IL, "layout": layout}
    dedup_files([str(src)], tmp_path / "local", **kw)  # type: ignore[arg-type]
    want = files(tmp_path / "local")
    out = f"s3://mmdedup-test/il-out-{layout}"
    work_dir = f"s3://mmdedup-test/il-out-work-{layout}" if work == "remote" else None
    for again in (False, True):
        s = dedup_files([str(src)], out, work_dir=work_dir, overwrite=again, **kw)  # type: ignore[arg-type]
        assert remote_files(s3, out) == want
        assert s["precision"] is None and not s["work_dir"]["kept"]
    listed = json.loads(s3.cat_file(f"{out}/.mmdedup-outputs.json"))["outputs"]  # type: ignore[attr-defined]
    assert set(want) <= set(listed)
    if layout == "pin":
        assert sum(n.startswith("content_image/") for n in want) >= 10
    written = json.loads(s3.cat_file(f"{out}/summary.json"))  # type: ignore[attr-defined]
    assert written["documents"] == s["documents"]
    assert not list((tmp_path / "tmp").iterdir())  # no cache, no default work directory left


def test_interleaved_ray_engine_with_remote_work_dir(pin: Path, tmp_path: Path, s3: object) -> None:
    """Ray tasks (each worker with a cache of its own), the work directory and OUTDIR on S3:
    the local run's files."""
    ray = pytest.importorskip("ray")
    kw = {**_IL, "layout": "pin"}
    dedup_files([str(pin)], tmp_path / "local", **kw)  # type: ignore[arg-type]
    url, out = "s3://mmdedup-test/il-ray-work", "s3://mmdedup-test/il-ray-out"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        dedup_files([str(pin)], out, engine="ray", work_dir=url, keep_work_dir=True, **kw)  # type: ignore[arg-type]
    finally:
        ray.shutdown()
    assert remote_files(s3, out) == files(tmp_path / "local")
    held = remote_files(s3, url)
    assert "done/write-000001" in held and "signatures/000000.npy" in held


# -------------------------------------------------------------------------------------------
# A Ray cluster of three processes on this machine: a head that runs no tasks and two workers,
# each with a temporary directory of its own; the inputs, OUTDIR and work directory on S3.


@pytest.fixture
def ray_cluster(s3_env: dict[str, str]) -> Iterator[tuple[str, list[Path]]]:
    pytest.importorskip("ray")
    ray_bin = shutil.which("ray", path=os.path.dirname(sys.executable))
    if ray_bin is None:
        pytest.skip("no ray command")
    port = _free_port()
    base = Path(tempfile.mkdtemp(prefix="mr"))  # short: Ray's socket paths have a length limit
    tmps = [base / "w1", base / "w2"]
    env = {**os.environ, **s3_env, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    common = ["--disable-usage-stats", "--num-gpus", "0"]
    try:
        subprocess.run(
            [ray_bin, "start", "--head", "--port", str(port), "--num-cpus", "0", "--temp-dir",
             str(base / "ray"), "--include-dashboard", "false", *common],
            env={**env, "TMPDIR": str(base)}, check=True, capture_output=True, timeout=180,
        )  # fmt: skip
        for t in tmps:
            t.mkdir()
            subprocess.run(
                [ray_bin, "start", "--address", f"127.0.0.1:{port}", "--num-cpus", "1", *common],
                # A unit is killed (SIGKILL) once, right after it is marked done: Ray retries it.
                env={**env, "TMPDIR": str(t), "MMDEDUP_CRASH_AFTER": "candidates-00001"},
                check=True, capture_output=True, timeout=180,
            )  # fmt: skip
        yield f"127.0.0.1:{port}", tmps
    finally:
        subprocess.run([ray_bin, "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def test_ray_cluster_with_work_dir_on_s3(
    corpus: Path,
    tmp_path: Path,
    s3: object,
    s3_env: dict[str, str],
    ray_cluster: tuple[str, list[Path]],
) -> None:
    address, worker_tmps = ray_cluster
    common = ["--threshold", "0.7", "--id-column", "id", "--memory", "4KB"]
    common += ["--components", "distributed"]
    local = cli("dedup", str(corpus), "-o", str(tmp_path / "local"), *common, env=s3_env)
    assert local.returncode == 0, local.stderr
    for f in corpus.iterdir():
        s3.put_file(str(f), f"mmdedup-test/in/{f.name}")  # type: ignore[attr-defined]
    r = cli(
        "dedup", "s3://mmdedup-test/in/", "-o", "s3://mmdedup-test/out/", "--work-dir", "s3://mmdedup-test/ray-work/",
        "--keep-work-dir", "--engine", "ray", "--address", address, *common,
        env={**s3_env, "RAY_AUTH_MODE": "disabled"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert remote_files(s3, "s3://mmdedup-test/out") == files(tmp_path / "local")
    held = remote_files(s3, "s3://mmdedup-test/ray-work")
    assert "done/candidates-00001" in held and "done/write-000003" in held
    # The units ran in the workers, each in a cache of its own temporary directory.
    for t in worker_tmps:
        assert list(t.glob("mmdedup-cache-*")), f"no unit ran in {t}"


def test_convert_and_tokenize_to_a_remote_outdir(
    tmp_path: Path, s3_env: dict[str, str], s3: object
) -> None:
    """-o s3://...: the files of a local OUTDIR, PIN image files included, each listed before it
    is written; a kill -9 after a shard then --resume gives them too."""
    import base64

    src = tmp_path / "in"
    (src / "content_image").mkdir(parents=True)
    for n in range(3):
        rows = [
            {
                "md": f"Shard {n} doc {i}.\n\n![](content_image/{i}.png)",
                "content_image": [f"content_image/{i}.png"],
                "id": f"{n}-{i}",
            }
            for i in range(4)
        ]
        (src / f"s{n}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for i in range(4):
        (src / "content_image" / f"{i}.png").write_bytes(b"png %d" % i)
    ranks = tmp_path / "bytes.tiktoken"
    ranks.write_text("".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256)))
    tok = ["--tokenizer", str(ranks), "--pattern", "cl100k_base"]
    for command, extra in (("convert", ["--to", "pin"]), ("tokenize", tok)):
        base = [command, str(src), *extra, "-q", "--memory", "1MB"]
        ref = cli(*base, "-o", str(tmp_path / f"{command}-ref"), env=s3_env)
        assert ref.returncode == 0, ref.stderr
        url = f"s3://mmdedup-test/out-{command}"
        killed = cli(*base, "-o", url, env={**s3_env, "MMDEDUP_CRASH_AFTER": "shard-000001"})
        assert killed.returncode == -9, killed.stderr
        s3.invalidate_cache()  # type: ignore[attr-defined]
        listed = json.loads(s3.cat_file(f"{url}/.mmdedup-outputs.json"))  # type: ignore[attr-defined]
        assert sorted(listed["outputs"])[:3] == sorted(
            f"s{n}.{'jsonl' if command == 'convert' else 'parquet'}" for n in range(3)
        )
        again = cli(*base, "-o", url, env=s3_env)
        assert again.returncode == 1 and "--resume" in again.stderr
        done = cli(*base, "-o", url, "--resume", env=s3_env)
        assert done.returncode == 0, done.stderr
        s3.invalidate_cache()  # type: ignore[attr-defined]
        assert remote_files(s3, url) == files(tmp_path / f"{command}-ref"), command
        if command == "convert":
            assert "content_image/3.png" in remote_files(s3, url)
        over = cli(*base, "-o", url, "--overwrite", env=s3_env)
        assert over.returncode == 0, over.stderr
        s3.invalidate_cache()  # type: ignore[attr-defined]
        assert remote_files(s3, url) == files(tmp_path / f"{command}-ref"), command
