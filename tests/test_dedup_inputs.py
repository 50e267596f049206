"""``mmdedup.dedup`` on every kind of table that exports Arrow: the same clusters whatever the
kind, given back as the kind it came as (or a ``pa.Table`` for streams and other exporters),
and a stream or lazy query read once."""

from __future__ import annotations

from typing import Any

import mmdedup
import polars as pl
import pyarrow as pa
import pytest

TEXTS = [
    "The cat sat on the mat.",
    "the cat sat on the mat",
    "A dog barked at the moon.",
    None,
    "a dog barked at the MOON",
    "Something else entirely.",
]
SCORE = [1.0, 5.0, 2.0, 0.0, 1.0, 3.0]
# method="exact", keep="max:score": row 1 stays in the cat cluster, row 2 in the dog one.
CLUSTER = [0, 0, 2, None, 2, None]
KEEP = [False, True, True, True, False, True]


def frame() -> pl.DataFrame:
    return pl.DataFrame({"text": TEXTS, "score": SCORE, "n": list(range(len(TEXTS)))})


def run(data: Any) -> Any:
    return mmdedup.dedup(data, method="exact", keep="max:score")


def test_polars_frames_give_polars_frames() -> None:
    out = run(frame())
    assert isinstance(out, pl.DataFrame)
    assert out.columns == ["text", "score", "n", "cluster", "keep"]
    assert out["cluster"].to_list() == CLUSTER and out["keep"].to_list() == KEEP
    assert out.schema["cluster"] == pl.Int64 and out.schema["keep"] == pl.Boolean


def test_a_lazy_frame_is_collected_once() -> None:
    calls = []

    def count(batch: pl.DataFrame) -> pl.DataFrame:
        calls.append(batch.height)
        return batch

    lazy = frame().lazy().map_batches(count, streamable=False)
    out = run(lazy)
    assert isinstance(out, pl.DataFrame)
    assert out["cluster"].to_list() == CLUSTER and out["keep"].to_list() == KEEP
    assert calls == [len(TEXTS)]


def test_pyarrow_tables_batches_and_readers() -> None:
    table = frame().to_arrow()
    out = run(table)
    assert isinstance(out, pa.Table)
    assert out.column_names == ["text", "score", "n", "cluster", "keep"]
    assert out["cluster"].to_pylist() == CLUSTER and out["keep"].to_pylist() == KEEP
    assert out.schema.field("cluster").type == pa.int64()

    batch = table.combine_chunks().to_batches()[0]
    got = run(batch)
    assert isinstance(got, pa.RecordBatch)
    assert got["cluster"].to_pylist() == CLUSTER and got["keep"].to_pylist() == KEEP

    # A reader of several batches is read once, into a table.
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=2))
    got = run(reader)
    assert isinstance(got, pa.Table)
    assert got["cluster"].to_pylist() == CLUSTER and got["keep"].to_pylist() == KEEP
    with pytest.raises(StopIteration):
        reader.read_next_batch()  # consumed


class Exporter:
    """Only the Arrow PyCapsule stream interface, counting its exports."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.exports = 0

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        self.exports += 1
        return self.table.__arrow_c_stream__(requested_schema)


def test_anything_exporting_an_arrow_stream_is_read_once_into_a_table() -> None:
    source = Exporter(frame().to_arrow())
    out = run(source)
    assert isinstance(out, pa.Table)
    assert out["cluster"].to_pylist() == CLUSTER and out["keep"].to_pylist() == KEEP
    assert source.exports == 1


def test_pandas_frames_give_pandas_frames_with_their_index() -> None:
    pd = pytest.importorskip("pandas")
    df = frame().to_pandas()
    df.index = pd.Index([f"r{i}" for i in range(len(df))], name="row")
    out = run(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["text", "score", "n", "cluster", "keep"]
    assert list(out.index) == list(df.index) and out.index.name == "row"
    assert str(out["cluster"].dtype) == "Int64" and str(out["keep"].dtype) == "boolean"
    assert [None if pd.isna(v) else int(v) for v in out["cluster"]] == CLUSTER
    assert out["keep"].tolist() == KEEP
    assert "cluster" not in df.columns  # the input is left as it was
    # Object columns holding None and NaN are null texts.
    objects = pd.DataFrame({"text": pd.Series(TEXTS, dtype=object), "score": SCORE})
    assert run(objects)["keep"].tolist() == KEEP


def test_duckdb_relations_give_tables() -> None:
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    con.register("docs", frame().to_arrow())
    rel = con.sql("select * from docs order by n")
    out = run(rel)
    assert isinstance(out, pa.Table)
    assert out["cluster"].to_pylist() == CLUSTER and out["keep"].to_pylist() == KEEP
    # What DuckDB's .arrow() gives: a RecordBatchReader.
    reader = con.sql("select * from docs order by n").arrow()
    assert run(reader)["keep"].to_pylist() == KEEP


def test_hugging_face_datasets_give_datasets() -> None:
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"text": TEXTS, "score": SCORE})
    out = run(ds)
    assert isinstance(out, datasets.Dataset)
    assert out.column_names == ["text", "score", "cluster", "keep"]
    assert out["cluster"][:] == CLUSTER and out["keep"][:] == KEEP
    # A selection is honoured: its rows, in its order.
    order = [5, 4, 3, 2, 1, 0]
    picked = run(ds.select(order))
    assert picked["text"][:] == [TEXTS[i] for i in order]
    assert picked["keep"][:] == [True, False, True, True, True, False]
    assert picked["cluster"][:] == [None, 1, None, 1, 4, 4]
    with pytest.raises(TypeError, match="DatasetDict; pass one of its splits"):
        run(datasets.DatasetDict({"train": ds}))


def test_the_text_column_may_be_given_for_every_kind() -> None:
    df = frame().rename({"text": "body"})
    assert run_on(df)["keep"].to_list() == KEEP
    assert run_on(df.to_arrow())["keep"].to_pylist() == KEEP
    with pytest.raises(mmdedup.InputError, match="no column 'body'"):
        run_on(frame().to_arrow())
    with pytest.raises(mmdedup.InputError, match="already has a 'keep' column"):
        mmdedup.dedup(frame().with_columns(keep=pl.lit(True)), method="exact")


def run_on(data: Any) -> Any:
    return mmdedup.dedup(data, "body", method="exact", keep="max:score")


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (object(), "builtins.object"),
        ({"text": ["a"]}, "builtins.dict"),
        (["a", "b"], "builtins.list"),
        ("text", "builtins.str"),
    ],
)
def test_what_exports_no_table_is_a_type_error_naming_its_type(data: Any, named: str) -> None:
    with pytest.raises(TypeError, match=f"`data` must be a table: .*; got {named}$"):
        mmdedup.dedup(data)


def test_a_column_is_a_type_error_too() -> None:
    with pytest.raises(TypeError, match=r"polars\.series\.series\.Series exports an Arrow stream"):
        mmdedup.dedup(pl.Series("text", ["a", "b"]))
