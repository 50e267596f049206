from __future__ import annotations

import mmdedup
import polars as pl
import pyarrow as pa
import pytest


def test_normalize_rules() -> None:
    out = mmdedup.normalize(["  Hello,\tWORLD!! ", "Ｆｕｌｌ ﬁ", "Café", None, "...", "Über 42"])
    assert out.to_pylist() == ["hello world", "full fi", "café", None, "", "über 42"]
    folded = mmdedup.normalize(["Café 2024-01-02"], fold_digits=True, strip_accents=True)
    assert folded.to_pylist() == ["cafe 0000 00 00"]


def test_tokenize_splits_unspaced_scripts() -> None:
    assert mmdedup.tokenize("Hello, 世界! こんにちは") == [
        "hello",
        "世",
        "界",
        "こ",
        "ん",
        "に",
        "ち",
        "は",
    ]
    assert mmdedup.tokenize("สวัสดีครับ")[:2] == ["ส", "วั"]
    assert mmdedup.tokenize("привет мир") == ["привет", "мир"]


def test_cjk_shingles_stay_short() -> None:
    sh = mmdedup.shingles("我们今天去北京旅游。", ngram=3)
    assert sh[0] == "我 们 今"
    assert all(len(s.split()) == 3 for s in sh)


def test_shingle_kinds() -> None:
    assert mmdedup.shingles("a b c", ngram=5) == ["a b c"]
    assert mmdedup.shingles("", ngram=5) == []
    assert mmdedup.shingles("abcde", ngram=4, tokenizer="char") == ["abcd", "bcde"]
    with pytest.raises(ValueError, match="tokenizer"):
        mmdedup.shingles("x", tokenizer="bpe")  # type: ignore[arg-type]
    with pytest.raises(mmdedup.ParameterError, match="ngram"):
        mmdedup.shingles("x", ngram=0)


@pytest.mark.parametrize(
    "make",
    [
        lambda v: v,
        lambda v: pa.array(v),
        lambda v: pa.array(v, pa.large_string()),
        lambda v: pa.array(v, pa.string_view()),
        lambda v: pa.chunked_array([v[:2], v[2:]]),
        lambda v: pl.Series(v),
        lambda v: pa.array([None if s is None else s.encode() for s in v], pa.binary()),
        lambda v: pa.array([None if s is None else s.encode() for s in v], pa.large_binary()),
    ],
)
def test_every_arrow_layout_gives_the_same_signatures(make) -> None:  # type: ignore[no-untyped-def]
    values = ["one two three four five six", None, "seven eight nine ten eleven", ""]
    want = mmdedup.minhash(values, num_perm=16)
    assert (mmdedup.minhash(make(values), num_perm=16) == want).all()


def test_invalid_utf8_names_the_row() -> None:
    arr = pa.array([b"fine text", b"also fine", b"\xff\xfe broken"], pa.binary())
    with pytest.raises(mmdedup.InputError, match="row 2: invalid UTF-8") as e:
        mmdedup.minhash(arr)
    assert e.value.row == 2
    assert isinstance(e.value, ValueError)


def test_wrong_types_are_rejected() -> None:
    with pytest.raises(mmdedup.InputError, match="string or binary"):
        mmdedup.minhash(pa.array([1, 2, 3]))
    with pytest.raises(mmdedup.InputError, match="sequence of texts"):
        mmdedup.minhash("just one string")


def test_huge_document() -> None:
    # 100 MB of text: signatures are computed in bounded blocks, and the result matches a
    # document with the same shingle set.
    unit = "alpha beta gamma delta epsilon zeta eta theta iota kappa "
    big = unit * (100 * 2**20 // len(unit))
    sig_big, sig_small = mmdedup.minhash([big, unit * 3])
    assert (sig_big == sig_small).all()


def test_polars_namespace() -> None:
    df = pl.DataFrame({"text": ["The same text.", "the same text", None, "Other words here"]})
    out = (
        df.lazy()
        .with_columns(
            sig=pl.col("text").mmdedup.minhash(num_perm=8, ngram=2),
            fp=pl.col("text").mmdedup.simhash(),
            h=pl.col("text").mmdedup.exact_hash(),
            n=pl.col("text").mmdedup.shingle_count(ngram=2),
        )
        .collect()
    )
    assert out["sig"][0].to_list() == out["sig"][1].to_list()
    assert out["fp"][0] == out["fp"][1]
    assert out["h"][0] == out["h"][1] and out["h"][2] is None
    assert out["n"].to_list() == [2, 2, 0, 2]
