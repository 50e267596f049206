"""A Parquet source with a column named like a column of the canonical table of documents
(``doc_id``, ``segments``) is a clear error in every command that reads it."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mmdedup import load_tokenizer
from mmdedup.errors import InputError
from mmdedup.formats import read_documents
from mmdedup.runs import tokenize_files
from test_hostile_inputs import fails, mmdedup_cli


def obelics_table(n: int, **columns: list[Any]) -> pa.Table:
    return pa.table(
        {
            "images": [[None, f"http://x/{i}.png"] for i in range(n)],
            "texts": [[f"Text {i}.", None] for i in range(n)],
            "metadata": [json.dumps([None, None])] * n,
            **columns,
        }
    )


@pytest.mark.parametrize("column", ["doc_id", "segments"])
def test_a_parquet_column_named_like_a_canonical_column_is_an_error(
    tmp_path: Path, column: str
) -> None:
    src = tmp_path / "in" / "web.parquet"
    src.parent.mkdir()
    pq.write_table(obelics_table(3, **{column: ["a", "b", "c"]}), src)
    for to in ("mmc4", "obelics"):
        fails(
            mmdedup_cli("convert", src, "--to", to, "-o", tmp_path / to),
            str(src),
            f"'{column}'",
            "rename",
        )
    with pytest.raises(InputError, match=f"'{column}'.*rename"):
        read_documents(src)
    vocab = tmp_path / "cl100k_base.tiktoken"
    vocab.write_text("".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256)))
    with pytest.raises(InputError, match=f"web.parquet.*'{column}'"):
        tokenize_files([str(src)], tmp_path / "tok", tokenizer=load_tokenizer(vocab))
