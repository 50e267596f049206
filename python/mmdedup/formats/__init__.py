"""Interleaved image-text documents: one model, every layout.

Read any of OBELICS, MMC4, OmniCorpus, PIN-14M, WanJuan and InfiMM-WebMath into one Arrow table
(one row per document, its text and images as ordered ``segments``), and write it back to any of
them. Reading then writing the same layout is lossless.

>>> import tempfile, pathlib
>>> from mmdedup.formats import read_documents, write_documents
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "pin.jsonl").write_text('{"id": "7", "md": "Hi\\\\n\\\\n![a](content_image/x.png)", '
...     '"content_image": ["content_image/x.png"]}\\n')
>>> docs = read_documents(d / "pin.jsonl")
>>> write_documents(docs.table, d / "mmc4.jsonl", format="mmc4")
1
>>> print((d / "mmc4.jsonl").read_text().strip())  # doctest: +NORMALIZE_WHITESPACE
{"text_list": ["Hi"], "image_info": [{"image_name": "content_image/x.png", "raw_url": null,
 "matched_text_index": 0, "alt_text": "a"}], "id": "7"}
"""

from __future__ import annotations

from .files import FORMATS, detect_format, read_documents, write_documents
from .markdown import document_texts, parse_markdown, render_markdown, split_markdown
from .model import SEGMENT, SEGMENTS, Documents, Problem, image, make_table, segment_meta, text

__all__ = [
    "FORMATS",
    "SEGMENT",
    "SEGMENTS",
    "Documents",
    "Problem",
    "detect_format",
    "document_texts",
    "image",
    "make_table",
    "parse_markdown",
    "read_documents",
    "render_markdown",
    "segment_meta",
    "split_markdown",
    "text",
    "write_documents",
]
