"""LLM token counts against the Python `tokenizers` and `tiktoken` libraries themselves,
templates, `mmdedup tokenize`, and bad tokenizer files."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import mmdedup
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tiktoken
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mmdedup import InputError, ParameterError, Template, load_tokenizer, render
from mmdedup.cli import main
from mmdedup.formats import image, make_table, read_documents, text, write_documents
from test_formats import make
from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

LATIN = ["the", "cat", "naïve", "Ünïcödé", "straße", "élan", "Zoë", "don't", "I'll", "HELLO"]
CJK = ["中文", "分词器", "日本語", "テキスト", "한국어", "漢字かな"]
EMOJI = ["🙂", "👍🏽", "🧪", "👩‍💻", "🇫🇷"]
SPACES = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\n\n", " \n "]
PUNCT = [".", ",", "!?", "...", "—", "«", "»", "(", ")", "$", "#"]


def mixed_text(rng: random.Random, n: int) -> str:
    parts = []
    for _ in range(n):
        pool = rng.choice([LATIN, LATIN, CJK, EMOJI, PUNCT])
        word = rng.choice(pool)
        if rng.random() < 0.2:
            word += str(rng.randrange(10 ** rng.randrange(1, 7)))
        parts.append(word)
        parts.append(rng.choice(SPACES) if rng.random() < 0.3 else " ")
    return "".join(parts)


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    rng = random.Random(7)
    return [mixed_text(rng, rng.randrange(5, 80)) for _ in range(400)]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    rng = random.Random(99)
    extra = ["", " ", "\n", "<image> tag <s>", "a" * 300, "1234567890" * 5, "<|endofchunk|>"]
    return [mixed_text(rng, rng.randrange(0, 60)) for _ in range(300)] + extra


def byte_level_bpe(corpus: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=700,
        special_tokens=["<s>", "</s>", "<image>", "<|endofchunk|>", "<fake_token_around_image>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 1)]
    )
    return tok


def wordpiece(corpus: list[str]) -> Tokenizer:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=500, special_tokens=["[UNK]", "[CLS]", "[SEP]"], show_progress=False
    )
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.BertProcessing(("[SEP]", 2), ("[CLS]", 1))
    return tok


def unigram(corpus: list[str]) -> Tokenizer:
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=400, special_tokens=["<unk>", "<image>"], unk_token="<unk>", show_progress=False
    )
    tok.train_from_iterator(corpus, trainer)
    return tok


TRAINERS = {"bytelevel-bpe": byte_level_bpe, "wordpiece": wordpiece, "unigram": unigram}


@pytest.fixture(scope="module", params=list(TRAINERS))
def trained(
    request: pytest.FixtureRequest, corpus: list[str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Tokenizer, Path]:
    tok = TRAINERS[request.param](corpus)
    path = tmp_path_factory.mktemp(request.param) / "tokenizer.json"
    tok.save(str(path))
    # The reference is `tokenizers` reading the same file: a Unigram model fresh from training
    # can break ties between equally scored segmentations otherwise than once read back.
    return Tokenizer.from_file(str(path)), path


def same(got: list[Any], want: list[Any], texts: list[str]) -> None:
    """Equal lists, or a failure naming the first text where they differ."""
    bad = next((i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w), None)
    assert bad is None, f"text {bad} {texts[bad]!r}: {got[bad]} != {want[bad]}"


@pytest.mark.parametrize("add_special_tokens", [True, False])
def test_tokenizer_json_equals_tokenizers(
    trained: tuple[Tokenizer, Path], texts: list[str], add_special_tokens: bool
) -> None:
    hf, path = trained
    ours = load_tokenizer(path)
    want = [e.ids for e in hf.encode_batch(texts, add_special_tokens=add_special_tokens)]
    same(ours.encode(texts, add_special_tokens=add_special_tokens).to_pylist(), want, texts)
    got = ours.count(pa.array(texts), add_special_tokens=add_special_tokens).tolist()
    same(got, [len(w) for w in want], texts)
    assert ours.vocab_size == hf.get_vocab_size(with_added_tokens=True)


def test_counts_do_not_depend_on_threads(trained: tuple[Tokenizer, Path], texts: list[str]) -> None:
    ours = load_tokenizer(trained[1])
    many = texts * 3
    mmdedup.set_num_threads(1)
    one = ours.count(many).tolist()
    mmdedup.set_num_threads(2)
    assert ours.count(many).tolist() == one


@pytest.fixture(scope="module")
def bpe_file(corpus: list[str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Tokenizer, Path]:
    tok = byte_level_bpe(corpus)
    path = tmp_path_factory.mktemp("bpe") / "tokenizer.json"
    tok.save(str(path))
    return Tokenizer.from_file(str(path)), path


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.text(max_size=60), max_size=8))
def test_any_text_equals_tokenizers(bpe_file: tuple[Tokenizer, Path], batch: list[str]) -> None:
    hf, path = bpe_file
    ours = load_tokenizer(path)
    assert ours.encode(batch).to_pylist() == [e.ids for e in hf.encode_batch(batch)]


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte to printable character map, inverted (ByteLevel's alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


@pytest.fixture(scope="module")
def ranks(corpus: list[str]) -> dict[bytes, int]:
    """Mergeable ranks from a trained byte-level BPE: its tokens as bytes, in merge order."""
    hf = byte_level_bpe(corpus)
    dec = _byte_decoder()
    out: dict[bytes, int] = {bytes([b]): b for b in range(256)}
    vocab = sorted(hf.get_vocab(with_added_tokens=False).items(), key=lambda kv: kv[1])
    for token, _ in vocab:
        if token.startswith("<"):
            continue
        raw = bytes(dec[c] for c in token)
        if raw not in out:
            out[raw] = len(out)
    return out


def _write_ranks(path: Path, ranks: dict[bytes, int]) -> Path:
    path.write_text("".join(f"{base64.b64encode(t).decode()} {r}\n" for t, r in ranks.items()))
    return path


def _openai_encoding(
    name: str, ranks: dict[bytes, int], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """tiktoken's own definition of encoding `name` (pattern, special tokens) over our ranks."""
    import tiktoken_ext.openai_public as openai_public

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", lambda *a, **k: ranks)
    spec: dict[str, Any] = getattr(openai_public, name)()
    spec.pop("explicit_n_vocab", None)
    return spec


@pytest.mark.parametrize("name", ["r50k_base", "cl100k_base", "o200k_base"])
def test_rank_file_equals_tiktoken(
    name: str,
    ranks: dict[bytes, int],
    texts: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = _openai_encoding(name, ranks, monkeypatch)
    enc = tiktoken.Encoding(**spec)
    # Named like OpenAI's file, the pattern and special tokens are the encoding's.
    ours = load_tokenizer(_write_ranks(tmp_path / f"{name}.tiktoken", ranks))
    special = next(iter(spec["special_tokens"]))
    batch = [*texts, f"a{special}b", f"{special} {special}\n", f" x{special}"]
    want = enc.encode_batch(batch, allowed_special="all")
    assert ours.encode(batch).to_pylist() == want
    assert ours.count(batch).tolist() == [len(w) for w in want]
    # Without special tokens: tiktoken's encode_ordinary.
    plain = load_tokenizer(
        tmp_path / f"{name}.tiktoken", pattern=spec["pat_str"], special_tokens={}
    )
    assert plain.encode(batch).to_pylist() == enc.encode_ordinary_batch(batch)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.text(max_size=60), max_size=8))
def test_any_text_equals_tiktoken(
    ranks: dict[bytes, int], tmp_path_factory: pytest.TempPathFactory, batch: list[str]
) -> None:
    pattern = mmdedup._core.tiktoken_pattern("cl100k_base")
    assert pattern is not None
    enc = tiktoken.Encoding("t", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    path = _write_ranks(tmp_path_factory.mktemp("r") / "r.tiktoken", ranks)
    ours = load_tokenizer(path, pattern="cl100k_base", special_tokens={})
    assert ours.encode(batch).to_pylist() == enc.encode_ordinary_batch(batch)


# Templates.

DOC = [
    text("A cat."),
    image(url="http://x/a.png", meta={"alt_text": "cat"}),
    image(path="b.png"),
    text("It naps."),
    text("The end."),
    image(url="http://x/c.png"),
]


def _docs(*segments: list[dict[str, Any]]) -> pa.Table:
    return make_table([f"f:{i}" for i in range(len(segments))], list(segments), pa.table({}))


def test_idefics_template() -> None:
    fake, img = "<fake_token_around_image>", "<image>"
    got = render(_docs(DOC, [], [image(url="u")]), template="idefics").to_pylist()
    assert got == [
        f"<s>A cat.{fake}{img}{fake}{img}{fake}It naps.\n\nThe end.{fake}{img}{fake}</s>",
        "<s></s>",
        f"<s>{fake}{img}{fake}</s>",
    ]


def _openflamingo_reference(sentences: list[str], image_ixs: list[int], eos: str) -> str:
    """OpenFlamingo's `preprocess_interleaved` text assembly (open_flamingo/train/data.py)."""
    sentences = sentences[:]
    for ix in image_ixs:
        sentences[ix] = f"<|endofchunk|><image>{sentences[ix]}"
    out = " ".join(sentences).replace("<|endofchunk|>", "", 1)
    out = (
        out.replace(" <|endofchunk|>", "<|endofchunk|>")
        .replace("<image> ", "<image>")
        .replace(" <image>", "<image>")
    )
    return f"{out}<|endofchunk|>{eos}"


def test_openflamingo_template_matches_its_reference(tmp_path: Path) -> None:
    rng = random.Random(3)
    for _ in range(50):
        sentences = [f"Sentence {i}." for i in range(rng.randrange(1, 6))]
        ixs = sorted(rng.choices(range(len(sentences)), k=rng.randrange(0, 4)))
        info = [
            {"raw_url": f"http://x/{j}.png", "matched_text_index": i} for j, i in enumerate(ixs)
        ]
        path = tmp_path / "d.jsonl"
        path.write_text(json.dumps({"text_list": sentences, "image_info": info}) + "\n")
        got = render(read_documents(path), template="openflamingo").to_pylist()[0]
        assert got == _openflamingo_reference(sentences, ixs, "<|endoftext|>")


def test_user_template_fields_and_json(tmp_path: Path) -> None:
    t = Template(
        prefix="<doc>",
        suffix="</doc>",
        text="[{text}]",
        image="<img {alt}|{url}|{path}>",
        image_after_image="+",
        text_separator="|",
    )
    got = render(_docs(DOC), template=t).to_pylist()[0]
    want = (
        "<doc>[A cat.]<img cat|http://x/a.png|>+[It naps.]|[The end.]<img |http://x/c.png|></doc>"
    )
    assert got == want
    spec = tmp_path / "t.json"
    spec.write_text(json.dumps({"base": "openflamingo", "suffix": "<eos>"}))
    assert mmdedup.tokens.Template.from_json(spec).image == "<|endofchunk|><image>"
    assert render(_docs([text("x")]), template=spec).to_pylist() == ["x<eos>"]
    spec.write_text(json.dumps({"prefx": ""}))
    with pytest.raises(InputError, match="unknown template key"):
        render(_docs([text("x")]), template=spec)
    with pytest.raises(ParameterError):
        render(_docs([text("x")]), template="llava")


def test_markdown_documents_render_their_markdown(tmp_path: Path) -> None:
    docs = read_documents(make("pin", tmp_path))
    got = render(docs, template="idefics").to_pylist()
    assert got[1] == "<s>Only text here.</s>"
    assert got[0].startswith("<s><fake_token_around_image><image><fake_token_around_image>A cat")


def test_segment_counts(bpe_file: tuple[Tokenizer, Path]) -> None:
    hf, path = bpe_file
    tok = load_tokenizer(path)
    docs = _docs(DOC, [], [text("中文 🙂 text")])
    t = mmdedup.count_documents(docs, tok, template="idefics", ids=True, text=True)
    rendered = t.column("text").to_pylist()
    assert rendered == render(docs, template="idefics").to_pylist()
    want = [e.ids for e in hf.encode_batch(rendered, add_special_tokens=False)]
    assert t.column("ids").to_pylist() == want
    assert t.column("tokens").to_pylist() == [len(w) for w in want]
    segs = t.column("segment_tokens").to_pylist()
    assert [len(s) for s in segs] == [len(DOC), 0, 1]
    # <image> and the fake token are added tokens of this tokenizer: an image after an image
    # costs 2 tokens, the others 3; prefix <s> and suffix </s> are in no segment.
    assert segs[0][1:3] == [3, 2]
    assert [sum(s) + 2 for s in segs] == t.column("tokens").to_pylist()


# The command line.


def test_cli_tokenize_layouts(bpe_file: tuple[Tokenizer, Path], tmp_path: Path) -> None:
    hf, path = bpe_file
    src = tmp_path / "in"
    src.mkdir()
    for layout in ("obelics", "mmc4", "pin"):
        make(layout, src)
    with (src / "mmc4.jsonl").open("a") as f:
        f.write("not json\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "tokenize",
            str(src),
            "-o",
            str(out),
            "--tokenizer",
            str(path),
            "--ids",
            "--text",
            "--threads",
            "2",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "mmc4.jsonl, row 2: invalid JSON" in result.output
    assert "6 documents" in result.output and "1 rows with errors" in result.output
    for name in ("obelics", "mmc4", "pin"):
        t = pq.read_table(out / f"{name}.parquet")
        assert t.column_names == ["doc_id", "tokens", "segment_tokens", "ids", "text"]
        rendered = t.column("text").to_pylist()
        want = [len(e.ids) for e in hf.encode_batch(rendered, add_special_tokens=False)]
        assert t.column("tokens").to_pylist() == want
        assert t.column("doc_id").to_pylist() == [
            f"{name}.{'parquet' if name == 'obelics' else 'jsonl'}:{i}" for i in range(2)
        ]
        assert [len(s) for s in t.column("segment_tokens").to_pylist()] == [5, 1]


def test_cli_tokenize_text_column(bpe_file: tuple[Tokenizer, Path], tmp_path: Path) -> None:
    hf, path = bpe_file
    texts = ["plain text one", None, "中文 two 🙂"]
    pq.write_table(pa.table({"text": texts, "n": [1, 2, 3]}), tmp_path / "c.parquet")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "tokenize",
            str(tmp_path / "c.parquet"),
            "-o",
            str(out),
            "--tokenizer",
            str(path),
            "--column",
            "text",
            "--add-special-tokens",
            "-q",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    t = pq.read_table(out / "c.parquet")
    assert t.column("tokens").to_pylist() == [
        len(hf.encode(texts[0]).ids),
        0,
        len(hf.encode(texts[2]).ids),
    ]
    # BOS and EOS from the post-processor are in no segment.
    assert t.column("segment_tokens").to_pylist() == [
        [len(hf.encode(texts[0]).ids) - 2],
        [],
        [len(hf.encode(texts[2]).ids) - 2],
    ]


def test_cli_bad_tokenizer(tmp_path: Path) -> None:
    make("mmc4", tmp_path)
    result = CliRunner().invoke(
        main,
        [
            "tokenize",
            str(tmp_path / "mmc4.jsonl"),
            "-o",
            str(tmp_path / "o"),
            "--tokenizer",
            str(tmp_path / "missing.json"),
        ],
    )
    assert result.exit_code != 0
    assert "missing.json: no such tokenizer file" in result.output


# Bad tokenizer files.


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such tokenizer file") as e:
        load_tokenizer(tmp_path / "nope.json")
    assert e.value.path == str(tmp_path / "nope.json")


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "tokenizer.json"
    p.write_text('{\n  "version": "1.0",\n  "model": oops\n}')
    with pytest.raises(InputError, match=r"tokenizer\.json: not a tokenizer\.json: .*line 3"):
        load_tokenizer(tmp_path)  # a directory stands for its tokenizer.json
    p.write_text('{"version": "1.0"}')
    with pytest.raises(InputError, match=r"not a tokenizer\.json"):
        load_tokenizer(p)


def test_bad_rank_files(ranks: dict[bytes, int], tmp_path: Path) -> None:
    p = _write_ranks(tmp_path / "cl100k_base.tiktoken", ranks)
    lines = p.read_text().splitlines()
    lines[2] = "QUJD notanumber"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"cl100k_base\.tiktoken: line 3: rank .notanumber."):
        load_tokenizer(p)
    lines[2] = "@@@ 2"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="line 3: invalid base64"):
        load_tokenizer(p)
    p.write_text("QUJD 0\n")
    with pytest.raises(InputError, match="byte 0x00 has no rank"):
        load_tokenizer(p)
    q = _write_ranks(tmp_path / "mine.tiktoken", ranks)
    with pytest.raises(ParameterError, match="pattern"):
        load_tokenizer(q)
    with pytest.raises(ParameterError, match="not a valid regex"):
        load_tokenizer(q, pattern="(unclosed")
    with pytest.raises(ParameterError, match="rank files"):
        load_tokenizer(_write_json(tmp_path), pattern="cl100k_base")


def _write_json(tmp_path: Path) -> Path:
    tok = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    p = tmp_path / "wl.json"
    tok.save(str(p))
    return p


def test_encode_error_names_the_row(tmp_path: Path) -> None:
    # A WordLevel model whose unknown token is missing from the vocabulary cannot encode "b".
    tok = Tokenizer(models.WordLevel({"a": 0}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    p = tmp_path / "wl.json"
    tok.save(str(p))
    ours = load_tokenizer(p)
    assert ours.count(["a a"]).tolist() == [2]
    with pytest.raises(InputError, match="row 1"):
        ours.count(["a", "b"])


def test_write_documents_then_tokenize_round_trip(
    bpe_file: tuple[Tokenizer, Path], tmp_path: Path
) -> None:
    docs = _docs(DOC)
    write_documents(docs, tmp_path / "d.parquet", format="obelics")
    tok = load_tokenizer(bpe_file[1])
    back = mmdedup.count_documents(read_documents(tmp_path / "d.parquet"), tok, template="idefics")
    assert (
        back.column("tokens").to_pylist()
        == mmdedup.count_documents(docs, tok).column("tokens").to_pylist()
    )


def test_tokenizers_pickle_as_their_file(bpe_file: tuple[Tokenizer, Path], tmp_path: Path) -> None:
    import pickle

    _, path = bpe_file
    ranks = _write_ranks(tmp_path / "mine.tiktoken", {bytes([b]): b for b in range(256)})
    for tok in (
        load_tokenizer(path),
        load_tokenizer(ranks, pattern="cl100k_base", special_tokens={"<|end|>": 300}),
    ):
        back = pickle.loads(pickle.dumps(tok))
        texts = ["a few words<|end|>", "and more\n"]
        assert back.encode(texts).to_pylist() == tok.encode(texts).to_pylist()
        assert (back.path, back.kind) == (tok.path, tok.kind)


def test_tokenize_and_convert_as_ray_tasks(
    bpe_file: tuple[Tokenizer, Path], tmp_path: Path
) -> None:
    """Each shard a Ray task: the files of the local engine, byte for byte, PIN's image files
    copied by the driver."""
    ray = pytest.importorskip("ray")
    from mmdedup.runs import convert_files, tokenize_files

    _, path = bpe_file
    src = tmp_path / "in"
    src.mkdir()
    for layout in ("obelics", "mmc4", "pin"):
        make(layout, src)
    (src / "content_image").mkdir()
    for n in range(3):
        (src / "content_image" / f"p{n}.png").write_bytes(b"\x89PNG fake " + bytes([n]))
    with (src / "pages.jsonl").open("w") as f:
        for n in range(3):
            f.write(json.dumps({"md": f"page {n}\n\n![x](content_image/p{n}.png)"}) + "\n")

    def files(out: Path) -> dict[str, bytes]:
        return {
            p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted(out.rglob("*"))
            if p.is_file() and not p.name.startswith(".")
        }

    tok = load_tokenizer(path)
    runs: dict[str, dict[str, dict[str, bytes]]] = {}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        for engine in ("local", "ray"):
            kw: dict[str, Any] = {"engine": engine}
            t = tokenize_files([str(src)], tmp_path / f"tok-{engine}", tokenizer=tok, **kw)
            c = convert_files([str(src)], tmp_path / f"conv-{engine}", to="obelics", **kw)
            pin = [str(src / "pages.jsonl")]
            p = convert_files(pin, tmp_path / f"pin-{engine}", to="pin", **kw)
            assert t.documents == 9 and c.documents_out == 9
            assert c.images_copied == 3 and p.images_copied == 3
            runs[engine] = {k: files(tmp_path / f"{k}-{engine}") for k in ("tok", "conv", "pin")}
    finally:
        ray.shutdown()
    assert runs["local"] == runs["ray"]
    assert len(runs["ray"]["pin"]) == 4  # the shard and its three pictures
