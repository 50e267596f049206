"""`mmdedup inspect`: reports of text, interleaved and image runs, escaping, the precision
estimate on constructed runs, and the report as headless Chromium renders it."""

from __future__ import annotations

import gzip
import importlib
import io
import json
import random
import shutil
import subprocess
import sys
import tarfile
from html.parser import HTMLParser
from pathlib import Path

import mmdedup
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mmdedup.inspect import precision_estimate
from mmdedup.inspect.html import safe_src, word_diff
from mmdedup.inspect.similarity import wilson

SCRIPT = "<script>document.title='pwned'</script>"
VOCAB = [f"w{i}" for i in range(5000)]


def words(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(VOCAB) for _ in range(n)]


def edited(rng: random.Random, ws: list[str], k: int) -> list[str]:
    """``ws`` with ``k`` distinct positions replaced by new words."""
    out = list(ws)
    for j in rng.sample(range(len(ws)), k):
        out[j] = f"edit{rng.randrange(10**9)}"
    return out


def edit_chains(rng: random.Random, chains: int, n: int, singles: int) -> list[str]:
    """``chains`` chains of 4 texts of ``n`` words, each link 2 words from the previous one, and
    ``singles`` unrelated texts, shuffled: removed members some of which fall below the
    threshold against their kept one."""
    texts: list[str] = []
    for _ in range(chains):
        ws = words(rng, n)
        for _ in range(4):
            texts.append(" ".join(ws))
            ws = edited(rng, ws, 2)
    texts += [" ".join(words(rng, n)) for _ in range(singles)]
    rng.shuffle(texts)
    return texts


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [sys.executable, "-m", "mmdedup", *args], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def png(seed: int, size: int) -> bytes:
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    im = Image.new("RGB", (256, 256), (30 + seed * 40 % 200, 60, 90))
    draw = ImageDraw.Draw(im)
    for _ in range(6):
        x, y = rng.randrange(200), rng.randrange(200)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((x, y, x + 60, y + 60), fill=colour)
    buf = io.BytesIO()
    im.resize((size, size)).save(buf, format="PNG")
    return buf.getvalue()


# -- the three kinds of run -------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inspect")
    rng = random.Random(5)
    out: dict[str, Path] = {}
    # Text: a gzipped JSON Lines shard and a Parquet shard of 4 row groups.
    src = root / "text"
    src.mkdir()
    base = [words(rng, 150) for _ in range(12)]
    docs = [" ".join(b) for b in base]
    docs += [" ".join(edited(rng, base[i], 2)) for i in range(6)]
    docs += [" ".join(edited(rng, base[0], 3)) for _ in range(4)]  # a cluster of 6
    docs[1] = f"Breaking {SCRIPT} " + docs[1]
    docs[13] = f"Breaking {SCRIPT} <b>bold</b> " + docs[13]
    rows = [{"id": f"doc-{i}", "text": t} for i, t in enumerate(docs)]
    with gzip.open(src / "a.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows[::2])
    pq.write_table(pa.Table.from_pylist(rows[1::2]), src / "b.parquet", row_group_size=3)
    cli("dedup", str(src), "-o", str(root / "text-out"), "--id-column", "id", "-t", "0.7", "-q")
    out["text"] = root / "text-out"
    # Interleaved: PIN markdown with pictures beside the shard.
    pin = root / "pin"
    (pin / "content_image").mkdir(parents=True)
    lines = []
    for i in range(8):
        ws = base[i % 4] if i < 4 else edited(rng, base[i % 4], 2)
        imgs = [f"content_image/{i}.png", f"content_image/{i % 4}s.png"]
        for j, p in enumerate(imgs):
            (pin / p).write_bytes(png(i * 2 + j, 48))
        md = f"# Page {i}\n\n![first]({imgs[0]})\n\n{' '.join(ws)}\n\n![second]({imgs[1]})\n\n"
        md += f"The end {SCRIPT}"
        lines.append({"id": f"pin-{i}", "md": md, "content_image": imgs})
    (pin / "part.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    cli("dedup", str(pin), "-o", str(root / "pin-out"), "-t", "0.5", "-q")
    out["interleaved"] = root / "pin-out"
    # OBELICS: Parquet, images by URL (one a javascript: URL).
    obe = root / "obelics"
    obe.mkdir()
    texts, images = [], []
    for i in range(6):
        ws = base[i % 3] if i < 3 else edited(rng, base[i % 3], 2)
        texts.append([" ".join(ws), None])
        images.append([None, "javascript:alert(1)" if i == 0 else f"https://img.example/{i}.png"])
    pq.write_table(pa.table({"texts": texts, "images": images}), obe / "web.parquet")
    cli("dedup", str(obe), "-o", str(root / "obelics-out"), "-t", "0.5", "-q")
    out["obelics"] = root / "obelics-out"
    # Images: files, a Parquet shard of bytes and a webdataset tar.
    imgs = root / "imgs"
    imgs.mkdir()
    for i in range(4):
        (imgs / f"f{i}.png").write_bytes(png(i % 2, 40 + 24 * i))
    pq.write_table(
        pa.table({"key": ["p0", "p1"], "jpg": [png(0, 90), png(7, 64)]}), root / "shard.parquet"
    )
    with tarfile.open(root / "shard.tar", "w") as tf:
        for name, data in [("t0.json", b"{}"), ("t0.png", png(1, 100))]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    cli(
        "images",
        str(imgs),
        str(root / "shard.parquet"),
        str(root / "shard.tar"),
        "-o",
        str(root / "img-out"),
        "-q",
    )
    out["images"] = root / "img-out"
    return out


class Tree(HTMLParser):
    """Checks that every element is closed in order, and collects tags, ids and attributes."""

    VOID = frozenset({"meta", "br", "img", "hr", "input", "link", "source", "wbr", "area", "col"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.ids: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.errors: list[str] = []
        self.title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "title":
            self.title += data


def parse(html: str) -> Tree:
    t = Tree()
    t.feed(html)
    t.close()
    assert not t.errors, t.errors[:5]
    assert not t.stack, t.stack
    assert len(t.ids) == len(set(t.ids)), "duplicate ids"
    return t


def report(outdir: Path, *args: str) -> tuple[str, str]:
    target = outdir.parent / f"{outdir.name}.html"
    r = cli("inspect", str(outdir), "-o", str(target), "--sample", "50", "--seed", "3", *args)
    return target.read_text(encoding="utf-8"), r.stdout


@pytest.mark.parametrize("kind", ["text", "interleaved", "obelics", "images"])
def test_report_of_each_kind(runs: dict[str, Path], kind: str) -> None:
    outdir = runs[kind]
    html, stdout = report(outdir)
    assert "precision 100.0% (95% CI" in stdout
    t = parse(html)
    for section in ("summary", "precision", "plots", "clusters"):
        assert section in t.ids
    assert sum(1 for tag, _ in t.tags if tag == "svg") == 3
    assert {"plot-cluster-sizes", "plot-similarity", "plot-shards"} <= set(t.ids)
    table = "clusters.parquet" if kind in ("text", "images") else "documents.parquet"
    clusters = pq.read_table(outdir / table, columns=["cluster"]).column("cluster").to_pylist()
    largest = max(set(c for c in clusters if c is not None), key=lambda c: (clusters.count(c), -c))
    assert f"cluster-{largest}" in t.ids
    docs = [i for i in t.ids if i.startswith("doc-")]
    assert len(docs) >= 2
    assert any(tag == "a" and a.get("href") == f"#cluster-{largest}" for tag, a in t.tags)
    assert sum(1 for tag, a in t.tags if "ids" in (a.get("class") or "")) >= len(docs)
    for tag, a in t.tags:  # no script URL anywhere
        for v in a.values():
            assert not (v or "").strip().lower().startswith("javascript:"), (tag, a)
    srcs = [str(a.get("src")) for tag, a in t.tags if tag == "img"]
    assert "not found" not in html and "cannot read" not in html
    if kind == "images":  # every clustered image: files, a Parquet row, a tar member
        assert len(srcs) == sum(c is not None for c in clusters)
        assert all(s.startswith("data:image/") for s in srcs)
        assert "Hamming distance" in html and "×" in html
    if kind == "interleaved":
        assert any(s.startswith("file://") and s.endswith(".png") for s in srcs)
    if kind == "obelics":
        assert any(s.startswith("https://img.example/") for s in srcs)
    if kind == "text":
        assert "<del>" in html and "<ins>" in html and "exact Jaccard" in html
        assert "doc-13" in html or "doc-1" in html


@pytest.mark.parametrize("kind", ["text", "interleaved"])
def test_document_markup_is_escaped(runs: dict[str, Path], kind: str) -> None:
    html, _ = report(runs[kind], "--show", "20", "--members", "10")
    t = parse(html)
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in html
    assert "<script>document.title" not in html
    assert sum(1 for tag, _ in t.tags if tag == "script") == 1  # the report's own
    assert t.title.startswith("mmdedup inspect:")


def test_same_seed_same_report(runs: dict[str, Path]) -> None:
    a = mmdedup.inspect(runs["text"], sample=7, seed=11).to_html()
    b = mmdedup.inspect(runs["text"], sample=7, seed=11).to_html()
    assert a == b
    r = mmdedup.inspect(runs["images"], sample=5)
    assert r.kind == "images" and "<svg" in r._repr_html_() and "<html" not in r._repr_html_()


def test_help_teaches() -> None:
    r = cli("inspect", "--help")
    for word in ("Examples:", "precision", "Wilson", "--sample", "--seed", "thumbnails"):
        assert word in r.stdout


def test_helpers() -> None:
    assert safe_src("javascript:alert(1)") is None
    assert safe_src(" JAVASCRIPT:x") is None and safe_src("data:text/html;base64,AA") is None
    assert safe_src("data:image/png;base64,AAAA") == "data:image/png;base64,AAAA"
    left, right = word_diff("a <b> c", "a <i> c")
    assert left == "a <del>&lt;b&gt; </del>c" and right == "a <ins>&lt;i&gt; </ins>c"
    lo, hi = wilson(8, 10)
    assert round(lo, 4) == 0.4902 and round(hi, 4) == 0.9433


# -- the precision estimate on constructed runs -----------------------------------------------


def jaccard(a: str, b: str) -> float:
    sa, sb = set(mmdedup.shingles(a, ngram=5)), set(mmdedup.shingles(b, ngram=5))
    return len(sa & sb) / len(sa | sb)


def test_precision_estimate_on_a_constructed_text_run(tmp_path: Path) -> None:
    """20 clusters of two: the removed member has 0, 1, ..., 19 words edited out of 200, so
    its exact Jaccard with the kept one falls from 1 to about 0.4; threshold 0.8."""
    rng = random.Random(1)
    src = tmp_path / "in"
    src.mkdir()
    kept = [words(rng, 200) for _ in range(20)]
    removed = [edited(rng, kept[k], k) for k in range(20)]
    texts = [" ".join(w) for w in kept] + [" ".join(w) for w in removed]
    with open(src / "s.jsonl", "w") as f:
        f.writelines(json.dumps({"text": t}) + "\n" for t in texts)
    out = tmp_path / "out"
    out.mkdir()
    n = len(texts)
    pq.write_table(
        pa.table(
            {
                "shard": ["s.jsonl"] * n,
                "row": list(range(n)),
                "cluster": list(range(20)) * 2,
                "keep": [True] * 20 + [False] * 20,
                "status": ["kept"] * 20 + ["duplicate"] * 20,
                "error": pa.nulls(n, pa.string()),
            }
        ),
        out / "clusters.parquet",
    )
    params = {"method": "minhash", "threshold": 0.8, "ngram": 5, "num_perm": 128, "seed": 1}
    summary = {"inputs": [str(src)], "column": "text", "id_column": None, "parameters": params}
    (out / "summary.json").write_text(json.dumps(summary))
    sims = [jaccard(texts[k], texts[20 + k]) for k in range(20)]
    agree = sum(s >= 0.8 for s in sims)
    assert 0 < agree < 20
    est = precision_estimate(out, sample=1000, seed=0)
    assert (est["population"], est["pairs"], est["agreeing"]) == (20, 20, agree)
    assert est["precision"] == pytest.approx(agree / 20)
    assert est["ci95"] == pytest.approx(list(wilson(agree, 20)))
    assert est["below_threshold"] == 20 - agree
    assert est["below_threshold_share"] == pytest.approx(1 - agree / 20)
    # A sample: a subset, the same for the same seed, its similarities the exact ones.
    a = mmdedup.inspect(out, sample=8, seed=4)
    assert a.precision.pairs == 8
    assert a.precision.to_dict() == precision_estimate(out, sample=8, seed=4)
    assert all(any(abs(s - x) < 1e-9 for x in sims) for s in a.similarities)
    # The estimate can be taken before summary.json exists (as a run would, to record it).
    (out / "summary.json").unlink()
    assert precision_estimate(out, sample=1000, summary=summary)["agreeing"] == agree


def test_precision_estimate_on_a_constructed_image_run(tmp_path: Path) -> None:
    """Removed images at Hamming distances 0, 3, 8, 9 and 20 from their kept ones, largest
    distance 8: three agree."""
    out = tmp_path / "out"
    out.mkdir()
    base = 0x0123456789ABCDEF
    dists = [0, 3, 8, 9, 20]
    hashes = [base] * 5 + [base ^ ((1 << d) - 1) for d in dists]
    n = len(hashes)
    pq.write_table(
        pa.table(
            {
                "shard": [f"/nowhere/{i}.png" for i in range(n)],
                "row": pa.nulls(n, pa.int64()),
                "key": [f"/nowhere/{i}.png" for i in range(n)],
                "width": pa.array([10] * n, pa.uint32()),
                "height": pa.array([10] * n, pa.uint32()),
                "hash": pa.array(hashes, pa.uint64()),
                "count": pa.array([2] * n, pa.uint64()),
                "cluster": list(range(5)) * 2,
                "keep": [True] * 5 + [False] * 5,
                "status": ["kept"] * 5 + ["duplicate"] * 5,
                "error": pa.nulls(n, pa.string()),
            }
        ),
        out / "clusters.parquet",
    )
    summary = {
        "inputs": ["/nowhere"],
        "parameters": {"method": "phash", "max_distance": 8},
        "counts": {"images": n},
    }
    (out / "summary.json").write_text(json.dumps(summary))
    est = precision_estimate(out, sample=100)
    assert (est["pairs"], est["agreeing"], est["below_threshold"]) == (5, 3, 2)
    r = mmdedup.inspect(out)
    assert sorted(r.similarities) == dists
    html = r.to_html()
    parse(html)
    assert "cannot read" in html  # the missing files are said, not raised


# -- in a browser ---------------------------------------------------------------------------


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if path := shutil.which(name):
            return path
    return None


@pytest.mark.skipif(chromium() is None, reason="chromium not installed")
@pytest.mark.parametrize("kind", ["text", "interleaved", "images"])
def test_report_renders_in_chromium(runs: dict[str, Path], kind: str, tmp_path: Path) -> None:
    from PIL import Image

    html, _ = report(runs[kind], "--show", "10")
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    title = parse(html).title
    exe = str(chromium())
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [exe, *flags, "--virtual-time-budget=2000", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert 'class="cluster"' in dom and "<svg" in dom and 'class="bar"' in dom
    assert "copy ids</button>" in dom  # the report's own script ran...
    t = Tree()
    t.feed(dom)
    assert t.title == title and "pwned" not in t.title  # ...the documents' did not
    if kind != "text":
        assert "<img" in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        [exe, *flags, f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri()],
        capture_output=True,
        timeout=120,
    )
    im = Image.open(shot).convert("RGB")
    assert im.size == (1200, 2000)
    colours = im.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 50
    white = sum(c for c, rgb in colours if rgb == (255, 255, 255))
    assert white < 0.9 * im.size[0] * im.size[1]


def test_a_runs_precision_from_its_kept_sets_equals_the_one_from_its_texts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run measures its sample on the shingle sets and signatures it kept (no shard is read
    again); the estimate taken later from the texts, the work directory gone, is the same to
    the last bit. Chains of edits make some removed members fall below the threshold."""
    from mmdedup.runs import dedup_files

    texts = edit_chains(random.Random(7), 40, 150, 40)
    src = tmp_path / "in"
    src.mkdir()
    for i in range(2):
        pq.write_table(pa.table({"text": texts[i::2]}), src / f"p{i}.parquet")
    work = tmp_path / "work"
    summary = dedup_files([str(src)], tmp_path / "out", work_dir=work, keep_work_dir=True)
    kept = summary["precision"]
    assert kept["pairs"] > 50 and 0 < kept["below_threshold"] < kept["pairs"]
    data = importlib.import_module("mmdedup.inspect.data")
    with monkeypatch.context() as m:
        m.setattr(data, "read_rows", lambda *a: pytest.fail("a shard was read"))
        assert precision_estimate(tmp_path / "out", work_dir=work) == kept
    shutil.rmtree(work)
    assert precision_estimate(tmp_path / "out") == kept
