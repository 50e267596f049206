"""Writes the fuzzers' seed inputs to fuzz/corpus/<target>/ (committed; run again to refresh).

Small, valid inputs that reach deep into each parser, so that the mutations start from there:
tiny JPEGs of every layout our reduced-scale decoder handles (gray, 4:4:4, 4:2:2, 4:2:0, RGB
without transform, progressive, restart intervals, optimized tables, EXIF) and some it leaves to
jpeg-decoder (CMYK); PNG, GIF, WebP, BMP and TIFF; markdown with every construct the segment
builder treats; a rank file and `tokenizer.json` files of every model type; texts in several
scripts. Needs Pillow (`pip install pillow`, as in the test extras).

    python fuzz/make_seeds.py
"""

from __future__ import annotations

import base64
import io
import json
import random
import shutil
from pathlib import Path
from typing import Any

from PIL import Image

OUT = Path(__file__).resolve().parent / "corpus"


def picture(w: int, h: int, mode: str, seed: int) -> Image.Image:
    """A noisy gradient: smooth parts and detail, so every coefficient band is used."""
    rng = random.Random(seed)
    rgb = Image.new("RGB", (w, h))
    rgb.putdata(
        [
            (
                (x * 11 + y * 3 + rng.randrange(40)) % 256,
                (x * 5 + y * 13 + rng.randrange(40)) % 256,
                (255 - x * 7 + rng.randrange(40)) % 256,
            )
            for y in range(h)
            for x in range(w)
        ]
    )
    return rgb.convert(mode)


def encode(img: Image.Image, fmt: str, **opts: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **opts)
    return buf.getvalue()


def exif_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def jpegs() -> dict[str, bytes]:
    out = {}
    layouts: list[tuple[str, int, int, str, dict[str, Any]]] = [
        ("gray", 16, 16, "L", {}),
        ("gray-odd", 9, 31, "L", {"quality": 95}),
        ("444", 16, 8, "RGB", {"subsampling": 0}),
        ("422", 24, 16, "RGB", {"subsampling": 1}),
        ("420", 40, 24, "RGB", {"subsampling": 2, "quality": 60}),
        ("420-odd", 17, 13, "RGB", {"subsampling": 2}),
        ("1x1", 1, 1, "RGB", {}),
        ("optimized", 24, 24, "RGB", {"optimize": True}),
        ("progressive", 24, 16, "RGB", {"progressive": True}),
        ("progressive-gray", 16, 16, "L", {"progressive": True}),
        ("restart-blocks", 32, 16, "RGB", {"restart_marker_blocks": 1}),
        ("restart-rows", 24, 24, "L", {"restart_marker_rows": 1}),
        ("rgb-keep", 16, 16, "RGB", {"keep_rgb": True, "subsampling": 0}),
        ("exif-rotated", 24, 16, "RGB", {"exif": exif_orientation(6)}),
        ("cmyk", 8, 8, "CMYK", {}),
    ]
    for i, (name, w, h, mode, opts) in enumerate(layouts):
        out[f"{name}.jpg"] = encode(
            picture(w, h, mode, i), "JPEG", quality=opts.pop("quality", 80), **opts
        )
    return out


def other_images() -> dict[str, bytes]:
    rgba = picture(12, 10, "RGBA", 20)
    rgba.putalpha(Image.linear_gradient("L").resize((12, 10)))
    frames = [picture(10, 8, "P", 30 + k) for k in range(3)]
    gif = io.BytesIO()
    frames[0].save(
        gif, "GIF", save_all=True, append_images=frames[1:], duration=40, loop=0, disposal=2
    )
    webp_anim = io.BytesIO()
    rgb_frames = [f.convert("RGB") for f in frames]
    rgb_frames[0].save(
        webp_anim, "WEBP", save_all=True, append_images=rgb_frames[1:], lossless=True
    )
    apng = io.BytesIO()
    rgb_frames[0].save(apng, "PNG", save_all=True, append_images=rgb_frames[1:])
    gray16 = Image.new("I;16", (9, 7))
    gray16.putdata([(x * 7000 + y * 900) % 65536 for y in range(7) for x in range(9)])
    return {
        "rgb.png": encode(picture(12, 10, "RGB", 21), "PNG"),
        "rgba.png": encode(rgba, "PNG"),
        "palette.png": encode(picture(8, 8, "P", 22), "PNG"),
        "gray16.png": encode(gray16, "PNG"),
        "exif.png": encode(picture(8, 6, "RGB", 23), "PNG", exif=exif_orientation(8)),
        "apng.png": apng.getvalue(),
        "anim.gif": gif.getvalue(),
        "lossy.webp": encode(picture(12, 10, "RGB", 24), "WEBP", quality=50),
        "alpha.webp": encode(rgba, "WEBP", lossless=True),
        "anim.webp": webp_anim.getvalue(),
        "rgb.bmp": encode(picture(6, 5, "RGB", 25), "BMP"),
        "rgb.tiff": encode(picture(6, 5, "RGB", 26), "TIFF"),
        "gray.tiff": encode(picture(6, 5, "L", 27), "TIFF", compression="tiff_deflate"),
    }


MARKDOWN = {
    "basic.md": "# Title\n\nA *paragraph* with `code`, a [link](http://x.y) and **bold**.\n\n"
    'Second line  \nhard break, then ![alt text](img/a.png "t") and after.\n',
    "lists.md": "- one\n- two\n  - nested ![n](n.jpg)\n  - deeper\n1. first\n2. second\n\n"
    "> quote with\n> ![q](q.png)\n\n---\n",
    "refs.md": "See ![ref image][logo] and ![missing][nope] and ![]() and ![empty]( ).\n\n"
    '[logo]: https://e.x/logo.png "Logo"\n',
    "html.md": "<div>\n<img src=\"a.png\" alt='An A'> text <IMG SRC=b.jpg/>\n</div>\n\n"
    'Inline <img alt="x" src="c.gif"> html <b>bold</b> <img data-src="d">.\n\n'
    '> <img src="in-quote.png">\n',
    "table.md": "| a | b |\n|---|:-:|\n| 1 | ![t](t.png) |\n| `2` | $x^2$ |\n\nafter\n",
    "code-math.md": "```python\n![not](image.png)\nprint(1)\n```\n\n    indented ![x](y)\n\n"
    "Euler: $e^{i\\pi}+1=0$ and\n\n$$\n\\int_0^1 x\\,dx\n$$\n",
    "unicode.md": "## Заголовок 标题\n\n日本語の段落。![画像](画像.png)続き。\n\n* café ~~naïve~~ 🙂\n",
    "footnote.md": "Text with a note[^1] and <!-- comment --> &amp; entities &#x41;.\n\n"
    "[^1]: The note ![f](f.png).\n\nSetext\n======\n",
}


def ranks_file() -> bytes:
    tokens = [bytes([b]) for b in range(256)]
    for merge in [
        b"th",
        b"he",
        b"the",
        b" t",
        b" the",
        b"in",
        b"ing",
        b"er",
        b"an",
        b"re",
        b"on",
        b" a",
    ]:
        tokens.append(merge)
    return b"".join(base64.b64encode(t) + b" %d\n" % i for i, t in enumerate(tokens))


def tokenizers() -> dict[str, bytes]:
    byte_vocab = {
        "a": 0,
        "b": 1,
        "c": 2,
        "ab": 3,
        "abc": 4,
        "Ġ": 5,
        "Ġa": 6,
        "<unk>": 7,
        "<s>": 8,
        "</s>": 9,
    }
    added = [
        {
            "id": 8,
            "content": "<s>",
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        },
        {
            "id": 9,
            "content": "</s>",
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        },
    ]
    template = {
        "type": "TemplateProcessing",
        "single": [
            {"SpecialToken": {"id": "<s>", "type_id": 0}},
            {"Sequence": {"id": "A", "type_id": 0}},
            {"SpecialToken": {"id": "</s>", "type_id": 0}},
        ],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {
            "<s>": {"id": "<s>", "ids": [8], "tokens": ["<s>"]},
            "</s>": {"id": "</s>", "ids": [9], "tokens": ["</s>"]},
        },
    }
    base = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added}
    files = {
        "bpe.json": {
            **base,
            "normalizer": {
                "type": "Sequence",
                "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}],
            },
            "pre_tokenizer": {
                "type": "ByteLevel",
                "add_prefix_space": False,
                "trim_offsets": True,
                "use_regex": True,
            },
            "post_processor": template,
            "decoder": {
                "type": "ByteLevel",
                "add_prefix_space": True,
                "trim_offsets": True,
                "use_regex": True,
            },
            "model": {
                "type": "BPE",
                "dropout": None,
                "unk_token": "<unk>",
                "continuing_subword_prefix": None,
                "end_of_word_suffix": None,
                "fuse_unk": False,
                "byte_fallback": False,
                "ignore_merges": False,
                "vocab": byte_vocab,
                "merges": ["a b", "ab c", "Ġ a"],
            },
        },
        "wordpiece.json": {
            **base,
            "normalizer": {
                "type": "BertNormalizer",
                "clean_text": True,
                "handle_chinese_chars": True,
                "strip_accents": None,
                "lowercase": True,
            },
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": {"type": "BertProcessing", "sep": ["</s>", 9], "cls": ["<s>", 8]},
            "model": {
                "type": "WordPiece",
                "unk_token": "<unk>",
                "continuing_subword_prefix": "##",
                "max_input_chars_per_word": 100,
                "vocab": {
                    "<unk>": 0,
                    "hello": 1,
                    "world": 2,
                    "##s": 3,
                    "a": 4,
                    "<s>": 8,
                    "</s>": 9,
                },
            },
        },
        "unigram.json": {
            **base,
            "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
            "pre_tokenizer": {
                "type": "Metaspace",
                "replacement": "▁",
                "prepend_scheme": "always",
                "split": True,
            },
            "model": {
                "type": "Unigram",
                "unk_id": 0,
                "byte_fallback": False,
                "vocab": [
                    ["<unk>", 0.0],
                    ["▁", -1.0],
                    ["a", -2.0],
                    ["b", -2.5],
                    ["▁ab", -1.5],
                    ["hello", -3.0],
                    ["<s>", 0.0],
                    ["</s>", 0.0],
                    ["c", -4.0],
                    ["x", -5.0],
                ],
            },
        },
        "wordlevel.json": {
            **base,
            "normalizer": {"type": "Strip", "strip_left": True, "strip_right": True},
            "pre_tokenizer": {
                "type": "Sequence",
                "pretokenizers": [
                    {
                        "type": "Split",
                        "pattern": {"Regex": "\\s+|[,.!]"},
                        "behavior": "Isolated",
                        "invert": False,
                    },
                    {"type": "Digits", "individual_digits": True},
                    {"type": "Punctuation", "behavior": "Isolated"},
                ],
            },
            "model": {
                "type": "WordLevel",
                "unk_token": "<unk>",
                "vocab": {"<unk>": 0, "hello": 1, ",": 2, "world": 3, "1": 4, "<s>": 8, "</s>": 9},
            },
        },
    }
    return {
        name: json.dumps(doc, ensure_ascii=False, indent=1).encode() for name, doc in files.items()
    }


TEXTS = {
    # The first byte: bit 0 normalize, 1 fold digits, 2 strip accents, 3 char shingles, bits 4-7
    # the n-gram size; the second picks the MinHash scheme and size.
    "ascii.txt": b"\x01\x00The quick, brown fox jumps over the lazy dog 42 times!",
    "mixed.txt": b"\x33\x05Caf\xc3\xa9 na\xc3\xafve \xef\xac\x81ne \xef\xbc\xa1BC "
    b"\xe2\x91\xa0 x\xcc\x81 <\xcc\xb8 end",
    "cjk.txt": "\x21\x0a我爱北京天安门 and 東京タワー カナ 한국어 텍스트 ไทยภาษา".encode(),
    "accents.txt": "\x45\x02Ångström ǅemal ÉCOLE ١٢٣ ²½ Straße İstanbul".encode(),
    "char.txt": b"\x29\x07ab, cd ef\xc2\xad gh\n\ttab",
    "raw.txt": b"\x00\x03Not normalized  at all\xff\xfe bytes",
}


def main() -> None:
    corpora = {
        "jpeg_oracle": jpegs(),
        "image_hash": {**jpegs(), **other_images()},
        "markdown": {k: v.encode() for k, v in MARKDOWN.items()},
        "tokenizer_load": {"ranks.tiktoken": ranks_file(), **tokenizers()},
        "text_kernels": TEXTS,
    }
    total = 0
    for target, files in corpora.items():
        d = OUT / target
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        for name, data in files.items():
            (d / name).write_bytes(data)
            total += len(data)
        print(f"{target}: {len(files)} seeds, {sum(map(len, files.values()))} bytes")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
