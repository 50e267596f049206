"""LLM token counts, and interleaved documents rendered to training text.

Tokenizers come from a file the user supplies:

- a Hugging Face ``tokenizer.json`` (or a directory holding one), run by the Rust
  ``tokenizers`` crate, so ids and counts equal the Python ``tokenizers`` library's for every
  model (BPE, WordPiece, Unigram, WordLevel), normalizer, pre-tokenizer and post-processor.
  Truncation and padding settings in the file are ignored: counts are of whole texts.
- a tiktoken-style rank file (one ``base64(token) rank`` per line, as ``cl100k_base.tiktoken``),
  encoded with tiktoken's byte-pair merge and a split pattern: a regex, or the name of an OpenAI
  encoding (``r50k_base``, ``p50k_base``, ``cl100k_base``, ``o200k_base``). Special tokens given
  are recognised anywhere in the text, as tiktoken's ``encode(text, allowed_special="all")``
  does; without them the result is ``encode_ordinary``'s.

Texts are tokenized in parallel in mmdedup's thread pool (see ``mmdedup.set_num_threads``) with
the GIL released.

Templates turn a document's segments into one training string with image placeholders:

- ``"idefics"`` (IDEFICS / OBELICS, after ``IdeficsProcessor`` in Hugging Face transformers):
  ``<s>`` first; each image is ``<fake_token_around_image><image><fake_token_around_image>``, and
  an image right after another shares the fake token before it (``<image><fake_token_around_image>``);
  texts as they are, two texts in a row joined by a blank line; ``</s>`` (LLaMA's end of sequence)
  last.
- ``"openflamingo"`` (OpenFlamingo / MMC4, after ``preprocess_interleaved`` in
  ``open_flamingo/train/data.py``): each image is ``<|endofchunk|><image>`` put before the text it
  goes with, except the first, which is ``<image>`` alone; texts joined by one space, none next to
  an image; ``<|endofchunk|><|endoftext|>`` last (``<|endoftext|>`` is the end of sequence of
  the MPT / GPT-NeoX tokenizers OpenFlamingo uses).

Markdown documents (PIN, WanJuan) render their text segments as the markdown they are.

>>> from mmdedup.formats import image, make_table, text
>>> import pyarrow as pa
>>> docs = make_table(["d:0"], [[text("A cat."), image(url="c.png"), image(url="d.png"),
...                             text("Two more.")]], pa.table({}))
>>> render(docs, template="idefics").to_pylist()[0]
'<s>A cat.<fake_token_around_image><image><fake_token_around_image><image><fake_token_around_image>Two more.</s>'
>>> render(docs, template="openflamingo").to_pylist()[0]
'A cat.<image><|endofchunk|><image>Two more.<|endofchunk|><|endoftext|>'
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from . import _core
from ._arrow import ArrowLike, to_arrow
from .errors import InputError, ParameterError
from .formats.model import Documents

__all__ = [
    "TEMPLATES",
    "Template",
    "Tokenizer",
    "count_documents",
    "load_tokenizer",
    "render",
]


@dataclass(frozen=True)
class Template:
    """How a document becomes one training string.

    Texts and images are written in order; ``{text}`` in ``text`` and ``{alt}``, ``{url}``,
    ``{path}`` in the image strings are replaced by the segment's text, alt text, URL and path
    (empty when missing); other braces stay as they are.

    Attributes:
        prefix: Written first (a BOS token, say).
        suffix: Written last (an end-of-document token).
        text: A text segment.
        image: An image segment.
        first_image: The first image of a document, when it differs from ``image``.
        image_after_image: An image that follows another image, when it differs.
        text_separator: Between two text segments in a row.

    A JSON file with these keys (all optional) is a template too, see :meth:`from_json`.

    >>> t = Template(prefix="[", suffix="]", image="<img:{alt}>", text_separator=" ")
    >>> from mmdedup.formats import image, make_table, text
    >>> docs = make_table(["d:0"], [[text("a"), text("b"),
    ...     image(url="u", meta={"alt_text": "cat"})]], pa.table({}))
    >>> render(docs, template=t).to_pylist()
    ['[a b<img:cat>]']
    """

    prefix: str = ""
    suffix: str = ""
    text: str = "{text}"
    image: str = "<image>"
    first_image: str | None = None
    image_after_image: str | None = None
    text_separator: str = "\n\n"

    @classmethod
    def from_json(cls, path: str | Path) -> Template:
        """A template from a JSON object of :class:`Template` fields; ``"base"`` names a
        built-in template (``"idefics"``, ``"openflamingo"``) whose fields the others replace.

        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "t.json"
        >>> _ = p.write_text('{"base": "idefics", "prefix": "", "suffix": "<|endoftext|>"}')
        >>> Template.from_json(p).suffix
        '<|endoftext|>'
        """
        where = str(path)
        try:
            spec = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as e:
            raise InputError(f"cannot read the template: {e}", path=where) from e
        except ValueError as e:
            raise InputError(f"not a JSON template: {e}", path=where) from e
        if not isinstance(spec, dict):
            raise InputError("a template is a JSON object", path=where)
        base = spec.pop("base", None)
        known = {f.name for f in dataclasses.fields(cls)}
        if unknown := sorted(set(spec) - known):
            raise InputError(
                f"unknown template key(s) {unknown}; the keys are base, {', '.join(sorted(known))}",
                path=where,
            )
        for key, value in spec.items():
            if not (isinstance(value, str) or (value is None and key.endswith("image"))):
                raise InputError(f"template key {key!r} must be a string", path=where)
        start = _template(base) if base is not None else cls()
        return dataclasses.replace(start, **spec)


TEMPLATES: dict[str, Template] = {
    "idefics": Template(
        prefix="<s>",
        suffix="</s>",
        image="<fake_token_around_image><image><fake_token_around_image>",
        image_after_image="<image><fake_token_around_image>",
    ),
    "openflamingo": Template(
        suffix="<|endofchunk|><|endoftext|>",
        image="<|endofchunk|><image>",
        first_image="<image>",
        text_separator=" ",
    ),
}
"""The built-in templates by name (see the module docstring for where they come from)."""

TemplateLike = Template | str | Path


def _template(template: TemplateLike) -> Template:
    if isinstance(template, Template):
        return template
    if isinstance(template, str) and template in TEMPLATES:
        return TEMPLATES[template]
    if Path(template).suffix == ".json" or Path(template).is_file():
        return Template.from_json(template)
    raise ParameterError(
        f"template: expected {', '.join(TEMPLATES)}, a Template or a JSON file, got {template!r}"
    )


class Tokenizer:
    """A loaded tokenizer (see :func:`load_tokenizer`).

    Attributes:
        path: The file it was loaded from.
        kind: ``"tokenizer.json"`` or ``"ranks"``.
    """

    def __init__(
        self,
        core: Any,
        path: str,
        kind: Literal["tokenizer.json", "ranks"],
        loaded: tuple[Any, ...] | None = None,
    ) -> None:
        self._core = core
        self.path = path
        self.kind = kind
        self._loaded = loaded  # load_tokenizer's arguments

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (to a Ray worker) as the file and options it was loaded from.
        if self._loaded is None:
            raise TypeError("a Tokenizer not made by load_tokenizer cannot be pickled")
        return (_reload, self._loaded)

    def __repr__(self) -> str:
        return f"Tokenizer({self.path!r}, kind={self.kind!r}, vocab_size={self.vocab_size})"

    @property
    def vocab_size(self) -> int:
        """Tokens in the vocabulary, added and special tokens included."""
        return int(self._core.vocab_size)

    def token_to_id(self, token: str) -> int | None:
        """The id of a token of a ``tokenizer.json`` vocabulary (None for rank files)."""
        found = self._core.token_to_id(token)
        return None if found is None else int(found)

    def count(self, texts: ArrowLike, *, add_special_tokens: bool = True) -> npt.NDArray[np.uint32]:
        """Tokens per text (0 for nulls), as ``len(tokenizer.encode(text).ids)``.

        Args:
            texts: Strings (or binary holding UTF-8): a ``pl.Series``, ``pa.Array``, ... or a
                list.
            add_special_tokens: Let a ``tokenizer.json`` post-processor add its tokens (BOS,
                EOS, ...), as ``tokenizers`` does by default. Rank files add none.

        Raises:
            InputError: A text the tokenizer cannot encode (naming its row), or invalid UTF-8.
        """
        out: npt.NDArray[np.uint32] = self._core.count(
            to_arrow(texts), add_special_tokens=add_special_tokens
        )
        return out

    def encode(self, texts: ArrowLike, *, add_special_tokens: bool = True) -> pa.ListArray:
        """Token ids per text, as a ``list<uint32>`` array (null for null texts)."""
        return pa.array(self._core.encode(to_arrow(texts), add_special_tokens=add_special_tokens))


def load_tokenizer(
    path: str | Path,
    *,
    pattern: str | None = None,
    special_tokens: dict[str, int] | None = None,
) -> Tokenizer:
    """Loads a ``tokenizer.json`` or a tiktoken-style rank file.

    A file whose first non-blank character is ``{`` is a ``tokenizer.json``; anything else is a
    rank file. A directory stands for its ``tokenizer.json``.

    Args:
        path: The file.
        pattern: Rank files: the split regex, or an OpenAI encoding name. Default: the file's
            stem when it is such a name (``cl100k_base.tiktoken``).
        special_tokens: Rank files: special tokens and their ids. Default: those of the
            encoding named by the file's stem, if any (``<|endoftext|>``, ...).

    Raises:
        InputError: A missing or unreadable file, malformed JSON or a bad rank line (naming the
            file and line).
        ParameterError: A rank file without a pattern, an invalid regex, options that only rank
            files take.

    >>> import tempfile, base64
    >>> p = Path(tempfile.mkdtemp()) / "tiny.tiktoken"
    >>> ranks = [bytes([b]) for b in range(256)] + [b"ab"]
    >>> _ = p.write_text("".join(f"{base64.b64encode(t).decode()} {i}\\n"
    ...                          for i, t in enumerate(ranks)))
    >>> tok = load_tokenizer(p, pattern="cl100k_base", special_tokens={"<|end|>": 300})
    >>> tok.encode(["abc<|end|>"]).to_pylist()
    [[256, 99, 300]]
    >>> tok.count(["abc", None]).tolist()
    [2, 0]
    """
    p = Path(path)
    if p.is_dir():
        p = p / "tokenizer.json"
    where = str(p)
    try:
        data = p.read_bytes()
    except FileNotFoundError as e:
        raise InputError("no such tokenizer file", path=where) from e
    except OSError as e:
        raise InputError(f"cannot read the tokenizer: {e}", path=where) from e
    if data.lstrip()[:1] == b"{":
        if pattern is not None or special_tokens is not None:
            raise ParameterError(
                "pattern and special_tokens are for rank files; a tokenizer.json has its own"
            )
        return Tokenizer(
            _wrap(lambda: _core.LlmTokenizer.from_json(data), where),
            where,
            "tokenizer.json",
            (str(p.absolute()), None, None),
        )
    name = p.name.split(".")[0]
    if pattern is None:
        if _core.tiktoken_pattern(name) is None:
            raise ParameterError(
                f"pattern: {where} is a rank file; pass its split regex or an encoding name "
                "(r50k_base, p50k_base, cl100k_base, o200k_base)"
            )
        pattern = name
    if special_tokens is None:
        special_tokens = dict(_SPECIALS.get(name, {}))
    specials = [(str(k), int(v)) for k, v in special_tokens.items()]
    if any(not (0 <= v < 2**32) for _, v in specials):
        raise ParameterError("special_tokens: ids must lie in [0, 2^32)")
    core = _wrap(
        lambda: _core.LlmTokenizer.from_ranks(data, pattern=pattern, special_tokens=specials), where
    )
    return Tokenizer(core, where, "ranks", (str(p.absolute()), pattern, dict(specials)))


def _reload(path: str, pattern: str | None, special_tokens: dict[str, int] | None) -> Tokenizer:
    return load_tokenizer(path, pattern=pattern, special_tokens=special_tokens)


def _wrap(load: Any, where: str) -> Any:
    try:
        return load()
    except InputError as e:
        raise InputError(str(e), path=where) from e


_ENDOFTEXT, _ENDOFPROMPT = "<|endoftext|>", "<|endofprompt|>"
_FIM = ("<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>")
# The special tokens of OpenAI's encodings (tiktoken_ext/openai_public.py).
_SPECIALS: dict[str, dict[str, int]] = {
    "r50k_base": {_ENDOFTEXT: 50256},
    "p50k_base": {_ENDOFTEXT: 50256},
    "cl100k_base": {
        _ENDOFTEXT: 100257,
        **dict(zip(_FIM, (100258, 100259, 100260), strict=True)),
        _ENDOFPROMPT: 100276,
    },
    "o200k_base": {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
}


_FIELD = re.compile(r"\{(text|alt|url|path)\}")


def _fill(fmt: str, values: dict[str, str]) -> str:
    if "{" not in fmt:
        return fmt
    return _FIELD.sub(lambda m: values.get(m.group(1), ""), fmt)


def _nbytes(s: str) -> int:
    return len(s) if s.isascii() else len(s.encode("utf-8"))


def _table(documents: Any) -> pa.Table:
    if isinstance(documents, Documents):
        return documents.table
    table = documents if isinstance(documents, pa.Table) else pa.table(documents)
    if "segments" not in table.column_names:
        raise InputError(
            f"expected a document table with a `segments` column; the columns are {table.column_names}"
        )
    return table


def _render(
    table: pa.Table, template: Template
) -> tuple[list[str], npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """Each document's string, with the byte offsets of its segments (see ``count_segments``)."""
    segs = table.column("segments").combine_chunks()
    if isinstance(segs, pa.ChunkedArray):  # an empty table has no chunk to combine
        segs = pa.array([], segs.type)
    lengths = pc.fill_null(segs.value_lengths(), 0).to_numpy(zero_copy_only=False)
    flat = segs.flatten()
    kinds = flat.field("kind").to_pylist()
    texts = flat.field("text").to_pylist()
    images = [template.image, template.first_image or "", template.image_after_image or ""]
    wants = {m for s in images for m in _FIELD.findall(s)}
    urls = flat.field("image_url").to_pylist() if "url" in wants else None
    paths = flat.field("image_path").to_pylist() if "path" in wants else None
    metas = flat.field("meta").to_pylist() if "alt" in wants else None
    text_fmt, sep = template.text, template.text_separator
    out: list[str] = []
    bounds: list[int] = []
    offsets = np.zeros(len(lengths) + 1, np.uint64)
    k = 0
    for d, n in enumerate(lengths):
        parts = [template.prefix]
        pos = _nbytes(template.prefix)
        prev = ""
        seen = 0
        for j in range(k, k + int(n)):
            if kinds[j] == "image":
                if seen == 0 and template.first_image is not None:
                    fmt = template.first_image
                elif prev == "image" and template.image_after_image is not None:
                    fmt = template.image_after_image
                else:
                    fmt = template.image
                seen += 1
                piece = _fill(fmt, _image_fields(j, urls, paths, metas)) if "{" in fmt else fmt
            else:
                body = texts[j] or ""
                piece = body if text_fmt == "{text}" else _fill(text_fmt, {"text": body})
                if prev == "text":
                    piece = sep + piece
            bounds.append(pos)
            parts.append(piece)
            pos += _nbytes(piece)
            prev = kinds[j]
        if n:
            bounds.append(pos)
        parts.append(template.suffix)
        out.append("".join(parts))
        k += int(n)
        offsets[d + 1] = len(bounds)
    return out, np.asarray(bounds, np.uint64), offsets


def _image_fields(
    j: int, urls: list[Any] | None, paths: list[Any] | None, metas: list[Any] | None
) -> dict[str, str]:
    values = {"url": (urls[j] or "") if urls else "", "path": (paths[j] or "") if paths else ""}
    if metas is not None and metas[j]:
        meta = json.loads(metas[j])
        values["alt"] = str(meta.get("alt_text") or "") if isinstance(meta, dict) else ""
    return values


def render(documents: Any, *, template: TemplateLike = "idefics") -> pa.StringArray:
    """Each document as one training string with image placeholders.

    Args:
        documents: The canonical document table (see :mod:`mmdedup.formats`), a
            ``Documents`` from ``read_documents``, or a ``pl.DataFrame`` of it.
        template: ``"idefics"``, ``"openflamingo"``, a :class:`Template` or a JSON template
            file.

    Returns:
        One string per document.

    >>> from mmdedup.formats import image, make_table, text
    >>> docs = make_table(["d:0"], [[image(url="c.png"), text("A cat."), text("Fat.")]],
    ...                   pa.table({}))
    >>> render(docs, template="openflamingo").to_pylist()
    ['<image>A cat. Fat.<|endofchunk|><|endoftext|>']
    """
    texts, _, _ = _render(_table(documents), _template(template))
    return pa.array(texts, pa.string())


def count_documents(
    documents: Any,
    tokenizer: Tokenizer,
    *,
    template: TemplateLike = "idefics",
    ids: bool = False,
    text: bool = False,
    add_special_tokens: bool = False,
) -> pa.Table:
    """Tokens of each rendered document, in total and per segment.

    Each document is rendered (see :func:`render`) and tokenized once. A token belongs to the
    segment its first byte is in (the separator before a text counts with it); tokens of the
    template's prefix and suffix, and those a post-processor adds, are only in the total. So
    ``segment_tokens`` of an image counts its placeholder's tokens, and the segment counts add
    up to the total less the prefix and suffix.

    Args:
        documents: As for :func:`render`.
        tokenizer: From :func:`load_tokenizer`.
        template: As for :func:`render`.
        ids: Add the token ids (``ids``, ``list<uint32>``).
        text: Add the rendered string (``text``).
        add_special_tokens: Also let a ``tokenizer.json`` post-processor add its tokens (the
            templates already write their BOS / end-of-document strings).

    Returns:
        A table: ``doc_id``, ``tokens`` (uint32), ``segment_tokens`` (``list<uint32>``, one per
        segment), then ``ids`` and ``text`` when asked for.

    >>> import tempfile, base64
    >>> from mmdedup.formats import image, make_table, text as txt
    >>> p = Path(tempfile.mkdtemp()) / "bytes.tiktoken"
    >>> _ = p.write_text("".join(f"{base64.b64encode(bytes([b])).decode()} {b}\\n"
    ...                          for b in range(256)))
    >>> tok = load_tokenizer(p, pattern="cl100k_base", special_tokens={"<image>": 256})
    >>> docs = make_table(["d:0"], [[txt("Hi"), image(url="c.png")]], pa.table({}))
    >>> t = count_documents(docs, tok, template=Template(image="<image>", suffix="."))
    >>> t.to_pylist()
    [{'doc_id': 'd:0', 'tokens': 4, 'segment_tokens': [2, 1]}]
    """
    table = _table(documents)
    rendered, bounds, offsets = _render(table, _template(template))
    totals, per_segment, id_lists = tokenizer._core.count_segments(
        pa.array(rendered, pa.string()),
        bounds,
        offsets,
        add_special_tokens=add_special_tokens,
        ids=ids,
    )
    k = (np.diff(offsets.astype(np.int64)) - 1).clip(min=0)
    seg_offsets = np.concatenate([[0], np.cumsum(k)]).astype(np.int32)
    columns: dict[str, Any] = {
        "doc_id": table.column("doc_id")
        if "doc_id" in table.column_names
        else pa.array([str(i) for i in range(table.num_rows)], pa.string()),
        "tokens": pa.array(totals, pa.uint32()),
        "segment_tokens": pa.ListArray.from_arrays(
            pa.array(seg_offsets, pa.int32()), pa.array(per_segment, pa.uint32())
        ),
    }
    if ids:
        columns["ids"] = pa.array(id_lists)
    if text:
        columns["text"] = pa.array(rendered, pa.string())
    return pa.table(columns)
