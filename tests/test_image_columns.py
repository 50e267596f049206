"""Image columns as the hasher takes them: bytes, paths, and Hugging Face ``Image`` structs
whose ``bytes`` is null and ``path`` names the file (relative to the shard or absolute)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import mmdedup
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mmdedup import InputError
from mmdedup.image_columns import check_image_type, resolve_images
from PIL import Image

HF_IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def png(seed: int, size: tuple[int, int] = (48, 32)) -> bytes:
    img = Image.new("RGB", size)
    img.putdata(
        [
            ((x * seed) % 256, (y * 7 + seed) % 256, (x * y) % 256)
            for y in range(size[1])
            for x in range(size[0])
        ]
    )
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def images(tmp_path: Path) -> dict[str, bytes]:
    """Three PNG files under ``tmp_path/data/img``, by name."""
    (tmp_path / "data" / "img").mkdir(parents=True)
    made = {f"{i}.png": png(i + 3) for i in range(3)}
    for name, data in made.items():
        (tmp_path / "data" / "img" / name).write_bytes(data)
    return made


def test_binary_columns_are_given_as_they_are(tmp_path: Path) -> None:
    col = pa.array([png(1), None], pa.binary())
    assert resolve_images(col, tmp_path / "s.parquet") is col
    chunked = pa.chunked_array([col, col])
    assert resolve_images(chunked, tmp_path / "s.parquet") is chunked


def test_structs_with_bytes_give_their_bytes_without_reading_a_file(tmp_path: Path) -> None:
    blobs = [png(1), png(2)]
    # The paths name no file: with the bytes there they are not looked at.
    col = pa.array([{"bytes": b, "path": f"gone/{i}.png"} for i, b in enumerate(blobs)], HF_IMAGE)
    got = resolve_images(col, tmp_path / "s.parquet")
    assert isinstance(got, pa.Array) and got.to_pylist() == blobs
    chunked = resolve_images(pa.chunked_array([col.slice(0, 1), col.slice(1)]), tmp_path / "s")
    assert isinstance(chunked, pa.ChunkedArray) and chunked.to_pylist() == blobs


def test_path_only_structs_give_paths_relative_to_the_shard(
    tmp_path: Path, images: dict[str, bytes]
) -> None:
    shard = tmp_path / "data" / "train-00000.parquet"
    absolute = str(tmp_path / "data" / "img" / "2.png")
    col = pa.array(
        [
            {"bytes": None, "path": "img/0.png"},
            {"bytes": None, "path": "./img/../img/1.png"},
            {"bytes": None, "path": absolute},
        ],
        HF_IMAGE,
    )
    got = resolve_images(col, shard)
    assert got == [
        str(tmp_path / "data" / "img" / "0.png"),
        str(tmp_path / "data" / "img" / "1.png"),
        absolute,
    ]
    # A relative shard path is resolved too, from the working directory.
    here = os.getcwd()
    try:
        os.chdir(tmp_path)
        assert resolve_images(col, "data/train-00000.parquet") == got
    finally:
        os.chdir(here)


def test_string_columns_are_paths(tmp_path: Path, images: dict[str, bytes]) -> None:
    shard = tmp_path / "data" / "s.parquet"
    got = resolve_images(pa.array(["img/1.png", "img/0.png"]), shard)
    assert got == [str(tmp_path / "data" / "img" / n) for n in ("1.png", "0.png")]
    large = resolve_images(pa.array(["img/1.png"], pa.large_string()), shard)
    assert large == got[:1]


def test_a_mix_of_bytes_paths_and_nulls_gives_every_rows_bytes(
    tmp_path: Path, images: dict[str, bytes]
) -> None:
    inline = png(9)
    col = pa.array(
        [
            {"bytes": inline, "path": "whatever.png"},
            {"bytes": None, "path": "img/1.png"},
            None,
            {"bytes": None, "path": None},
        ],
        HF_IMAGE,
    )
    got = resolve_images(col, tmp_path / "data" / "s.parquet")
    assert isinstance(got, pa.Array)
    assert got.to_pylist() == [inline, images["1.png"], None, None]
    # A string column with a null reads its files.
    paths = resolve_images(pa.array(["img/0.png", None]), tmp_path / "data" / "s.parquet")
    assert isinstance(paths, pa.Array) and paths.to_pylist() == [images["0.png"], None]


def test_a_struct_of_only_paths_or_only_bytes(tmp_path: Path, images: dict[str, bytes]) -> None:
    only_path = pa.array([{"path": "img/0.png"}], pa.struct([("path", pa.string())]))
    assert resolve_images(only_path, tmp_path / "data" / "s") == [
        str(tmp_path / "data" / "img" / "0.png")
    ]
    only_bytes = pa.array([{"bytes": b"x"}], pa.struct([("bytes", pa.large_binary())]))
    assert resolve_images(only_bytes, tmp_path / "s").to_pylist() == [b"x"]
    nulls = pa.array([None, None], pa.struct([("path", pa.string())]))
    assert resolve_images(nulls, tmp_path / "s").to_pylist() == [None, None]


def test_a_missing_file_names_the_shard_the_row_and_the_file(
    tmp_path: Path, images: dict[str, bytes]
) -> None:
    shard = tmp_path / "data" / "train.parquet"
    col = pa.array(
        [{"bytes": None, "path": "img/0.png"}, {"bytes": None, "path": "img/nope.png"}], HF_IMAGE
    )
    with pytest.raises(InputError) as e:
        resolve_images(col, shard, first_row=4096, name="image")
    assert e.value.path == str(shard) and e.value.row == 4097
    message = str(e.value)
    assert str(tmp_path / "data" / "img" / "nope.png") in message
    assert "'img/nope.png'" in message and "column 'image'" in message
    # In a batch that mixes bytes and paths too, before any file is read.
    mixed = pa.array(
        [{"bytes": b"x", "path": None}, {"bytes": None, "path": "/no/such.png"}], HF_IMAGE
    )
    with pytest.raises(InputError, match=r"row 1: column 'image': image file /no/such\.png does"):
        resolve_images(mixed, shard)
    # Given a dict, a missing file is recorded for its row, whose image is then null.
    missing: dict[int, str] = {}
    got = resolve_images(col, shard, errors=missing)
    assert list(missing) == [1] and "img/nope.png" in missing[1]
    assert got.to_pylist() == [images["0.png"], None]


def test_paths_through_a_file_system_url(images: dict[str, bytes]) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/shards/img/0.png", images["0.png"])
    col = pa.array([{"bytes": None, "path": "img/0.png"}], HF_IMAGE)
    got = resolve_images(col, "memory://shards/train.parquet")
    assert isinstance(got, pa.Array) and got.to_pylist() == [images["0.png"]]
    with pytest.raises(InputError, match=r"memory://shards/img/gone\.png"):
        resolve_images(pa.array(["img/gone.png"]), "memory://shards/train.parquet")


@pytest.mark.parametrize(
    ("kind", "what"),
    [
        (pa.int64(), "values of type int64"),
        (pa.struct([("width", pa.int32())]), "structs without image bytes or a path"),
        (pa.struct([("bytes", pa.int32()), ("path", pa.int32())]), "structs without"),
        (pa.list_(pa.binary()), "values of type list"),
    ],
)
def test_other_columns_are_input_errors(tmp_path: Path, kind: pa.DataType, what: str) -> None:
    with pytest.raises(InputError, match=f"s.parquet: column 'jpg' holds {what}"):
        check_image_type(kind, "jpg", str(tmp_path / "s.parquet"))
    with pytest.raises(InputError, match=what):
        resolve_images(pa.nulls(1, kind), tmp_path / "s.parquet", name="jpg")
    for fine in (pa.binary(), pa.large_binary(), pa.string(), pa.null(), HF_IMAGE):
        check_image_type(fine, "jpg")


def test_hashes_of_a_hugging_face_parquet_shard_by_path_equal_those_by_bytes(
    tmp_path: Path, images: dict[str, bytes]
) -> None:
    names = sorted(images)
    by_path = pa.table(
        {"image": pa.array([{"bytes": None, "path": f"img/{n}"} for n in names], HF_IMAGE)}
    )
    shard = tmp_path / "data" / "train-00000-of-00001.parquet"
    pq.write_table(by_path, shard)
    read = pq.read_table(shard)["image"]
    got = mmdedup.image_hashes(resolve_images(read, shard), methods=["phash", "dhash"])
    want = mmdedup.image_hashes([images[n] for n in names], methods=["phash", "dhash"])
    assert got.drop_columns(["error"]).equals(want.drop_columns(["error"]))
    assert got["error"].null_count == len(names)


def test_a_dataset_saved_by_hugging_face_datasets(tmp_path: Path, images: dict[str, bytes]) -> None:
    datasets = pytest.importorskip("datasets")
    files = [str(tmp_path / "data" / "img" / n) for n in sorted(images)]
    ds = datasets.Dataset.from_dict({"image": files}).cast_column("image", datasets.Image())
    shard = tmp_path / "export" / "train.parquet"
    shard.parent.mkdir()
    ds.to_parquet(str(shard))
    col = pq.read_table(shard)["image"]
    assert pa.types.is_struct(col.type)
    got = resolve_images(col, shard)
    if isinstance(got, list):  # stored by path only
        assert got == files
    else:  # the library embedded the bytes
        assert got.to_pylist() == [images[n] for n in sorted(images)]
