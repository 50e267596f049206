"""Markdown segments from Python: plain text, images, and the byte-exact round trip."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmdedup.formats import parse_markdown, render_markdown, segment_meta, split_markdown

TRICKY = [
    "",
    "plain",
    "# Title\n\nPara with *nested **strong** text*.\n",
    "See [a link](http://x) and ![img](a.png) inline.\n\n![alone](b.png)\n",
    '![ref image][r]\n\n[r]: http://x/r.png "title"\n',
    '<p>html <img src="h.png" alt="H"> block</p>\n\nafter',
    "```\n![not](an image)\n```\n",
    "| a | b |\n|---|---|\n| ![c](c.png) | d |\n",
    "dangling ![alt]() and ![missing][nope]\n",
    "$$x_1 * y_1$$\n\ninline $a_b$ math\n",
    "- one\n  - ![nested](n.png)\n- two\n\n\n\ntrailing blank lines\n\n\n",
    "\n\n   \n",
    "[fig]: http://only/a/definition.png\n",
]


@pytest.mark.parametrize("md", TRICKY)
def test_split_then_render_is_byte_exact(md: str) -> None:
    segments, _ = split_markdown([md])[0]
    assert render_markdown(segments) == md


PIECES = st.sampled_from(
    [
        "a",
        "é",
        "漢",
        " ",
        "\n",
        "\n\n",
        "    ",
        "#",
        ">",
        "-",
        "*",
        "`",
        "```",
        "$",
        "|",
        "!",
        "[",
        "]",
        "(",
        ")",
        "<img src=x.png>",
        "![a](b.png)",
        "[r]: u",
        "\\",
        "<div>",
        "</div>",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=40).map("".join))
def test_round_trip_holds_for_any_text(md: str) -> None:
    segments, _ = split_markdown([md])[0]
    assert render_markdown(segments) == md


def test_plain_text_and_images() -> None:
    t = parse_markdown(pl.Series(["Some *emph* and [link](u).\n\n![A cat](cat.png)", None]))
    rows = t.select(["doc", "kind", "text", "src", "alt"]).to_pylist()
    assert rows == [
        {"doc": 0, "kind": "text", "text": "Some emph and link.", "src": None, "alt": None},
        {"doc": 0, "kind": "image", "text": None, "src": "cat.png", "alt": "A cat"},
    ]


def test_code_fence_images_are_text() -> None:
    t = parse_markdown(pa.array(["```md\n![x](y.png)\n```"]))
    assert t.column("kind").to_pylist() == ["text"]
    assert t.column("text").to_pylist() == ["![x](y.png)"]


def test_reference_and_html_images() -> None:
    t = parse_markdown(["![r][1]\n\n[1]: http://x/1.png\n\n<img alt='two' src=\"2.png\">"])
    images = t.filter(pa.compute.equal(t.column("kind"), "image"))
    assert images.column("src").to_pylist() == ["http://x/1.png", "2.png"]
    assert images.column("alt").to_pylist() == ["r", "two"]


def test_dangling_links_are_counted_and_kept_as_text() -> None:
    (segments, dangling), *_ = split_markdown(["text ![no src]() more ![x][undefined]"])
    assert dangling == 2
    assert [s["kind"] for s in segments] == ["text"]


def test_edited_image_is_rerendered() -> None:
    segments, _ = split_markdown(["Intro\n\n![A](a.png)"])[0]
    segments[1] = {**segments[1], "image_path": "b.png"}
    assert render_markdown(segments) == "Intro\n\n![A](b.png)"
    assert segment_meta(segments[1])["alt_text"] == "A"


def test_rejects_non_text() -> None:
    with pytest.raises(ValueError, match="string or binary"):
        parse_markdown(pa.array([1, 2]))
