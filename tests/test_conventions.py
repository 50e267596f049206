"""One convention across commands: an option that does not apply is an error, ``--on-error`` has
one vocabulary, ``shard`` is a plain string, and the work directory is accounted for."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from mmdedup.cli import main
from mmdedup.errors import ParameterError, on_error_mode

TEXTS = ["a b c d e f g h i j", "a b c d e f g h i j", "k l m n o p q r s t", None]


@pytest.fixture
def text(tmp_path: Path) -> Path:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3, 4], "text": TEXTS}), path)
    return path


@pytest.fixture
def obelics(tmp_path: Path) -> Path:
    path = tmp_path / "web.parquet"
    pq.write_table(
        pa.table(
            {
                "texts": [["Shared footer.", None], ["Story one.", None]],
                "images": [
                    [None, "https://example.org/a.png"],
                    [None, "https://example.org/b.png"],
                ],
            }
        ),
        path,
    )
    return path


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def refused(r: Result, *words: str) -> None:
    assert r.exit_code == 2, r.output
    assert "does not apply" in r.output or "do not apply" in r.output, r.output
    for w in words:
        assert w in r.output, r.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--paragraphs", "off"], ["--paragraphs", "plain text shards"]),
        (["--image-frequency", "3"], ["--image-frequency"]),
        (["--no-near-duplicates"], ["--near-duplicates/--no-near-duplicates"]),
        (["--markdown", "keep", "--image-weight", "2"], ["--image-weight", "--markdown"]),
        (["--method", "exact", "-t", "0.5"], ["--threshold", "--method exact"]),
        (["--method", "exact", "--ngram", "3"], ["--ngram"]),
        (["--max-distance", "4"], ["--max-distance", "--method minhash"]),
        (["--method", "simhash", "--num-perm", "64"], ["--num-perm", "--method simhash"]),
        (["--method", "simhash", "--verify", "none", "-t", "0.7"], ["--threshold"]),
        (["--method", "simhash", "--bands", "4", "--rows", "4"], ["--bands", "--rows"]),
        (["--address", "ray://x:1"], ["--address", "--engine ray"]),
    ],
)
def test_dedup_refuses_options_that_would_be_ignored(
    text: Path, tmp_path: Path, args: list[str], words: list[str]
) -> None:
    out = tmp_path / "out"
    refused(run("dedup", text, "-o", out, *args), *words)
    assert not out.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--method", "simhash", "--max-distance", "4"],
        ["--method", "simhash", "--verify", "jaccard", "-t", "0.7"],
        ["--method", "exact", "--no-normalize"],
        ["-t", "0.5", "--num-perm", "64", "--bands", "8", "--rows", "8", "--verify", "none"],
        ["--threshold", "0.8"],  # a default given explicitly is still an option that applies
    ],
)
def test_dedup_accepts_the_options_of_its_method(
    text: Path, tmp_path: Path, args: list[str]
) -> None:
    r = run("dedup", text, "-o", tmp_path / "out", *args, "-q")
    assert r.exit_code == 0, r.output


def test_interleaved_dedup_refuses_text_only_and_unused_image_options(
    obelics: Path, tmp_path: Path
) -> None:
    refused(run("dedup", obelics, "-o", tmp_path / "o1", "--id-column", "id"), "--id-column")
    refused(run("dedup", obelics, "-o", tmp_path / "o4", "-c", "body"), "--column", "layout")
    refused(
        run("dedup", obelics, "-o", tmp_path / "o2", "--image-distance", "4"), "--image-key phash"
    )
    r = run("dedup", obelics, "-o", tmp_path / "o3", "--paragraphs", "off", "-q")
    assert r.exit_code == 0, r.output


def test_images_and_tokenize_refuse_options_that_would_be_ignored(
    text: Path, tmp_path: Path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    refused(run("images", photos, "-o", tmp_path / "o1", "--max-frames", "5"), "--frames all")
    refused(run("images", photos, "-o", tmp_path / "o2", "-m", "pdq", "--hash-size", "16"), "PDQ")
    (photos / "a.png").write_bytes(b"")
    r = run("images", photos, "-o", tmp_path / "o4", "--column", "jpg")
    assert r.exit_code == 1 and "no Parquet shard" in r.output, r.output
    vocab = tmp_path / "cl100k_base.tiktoken"
    vocab.write_text("")
    refused(
        run(
            "tokenize",
            text,
            "-o",
            tmp_path / "o3",
            "--tokenizer",
            vocab,
            "-c",
            "text",
            "--template",
            "openflamingo",
        ),
        "--template",
        "--column of plain text",
    )


def test_on_error_has_one_vocabulary() -> None:
    assert [on_error_mode(v) for v in ("record", "raise", "keep", "skip")] == [
        "record",
        "raise",
        "record",
        "record",
    ]
    with pytest.raises(ParameterError, match="record or raise"):
        on_error_mode("ignore")
    for command in ("dedup", "convert", "tokenize"):
        r = run(command, "--help")
        assert "--on-error [record|raise]" in r.output, r.output


def test_a_row_that_cannot_be_read_is_recorded_by_default_and_raises_on_request(
    tmp_path: Path,
) -> None:
    src = tmp_path / "t.jsonl"
    src.write_bytes(b'{"text": "one two three"}\n{"text": 5}\n{"text": "one two three"}\n')
    r = run("dedup", src, "-o", tmp_path / "o1", "-q")
    assert r.exit_code == 0, r.output
    rows = pq.read_table(tmp_path / "o1" / "clusters.parquet").to_pylist()
    assert [x["status"] for x in rows] == ["kept", "error", "duplicate"]
    assert "holds a number" in rows[1]["error"]
    for value in ("raise",):
        r = run("dedup", src, "-o", tmp_path / f"o-{value}", "--on-error", value, "-q")
        assert r.exit_code == 1 and "t.jsonl, row 1" in r.output, r.output
    for old in ("keep", "skip"):  # earlier names of record
        r = run("dedup", src, "-o", tmp_path / f"o-{old}", "--on-error", old, "-q")
        assert r.exit_code == 0, r.output


def test_shard_is_a_plain_string_column(text: Path, tmp_path: Path) -> None:
    r = run("dedup", text, "-o", tmp_path / "out", "--id-column", "id", "-q")
    assert r.exit_code == 0, r.output
    t = pq.read_table(tmp_path / "out" / "clusters.parquet")
    assert t.schema.field("shard").type == pa.string()
    joined = t.join(pa.table({"shard": ["t.parquet"], "origin": ["crawl"]}), "shard")
    assert joined.num_rows == 4


@pytest.mark.parametrize("command", ["dedup", "images"])
def test_the_work_directory_is_removed_on_success_unless_kept(
    command: str, text: Path, tmp_path: Path
) -> None:
    src: Path = text
    if command == "images":
        src = tmp_path / "photos"
        src.mkdir()
        from PIL import Image

        for i in range(3):
            Image.new("RGB", (32, 32), (80 * i, 40, 40)).save(src / f"{i}.png")
    out = tmp_path / "out"
    r = run(command, src, "-o", out)
    assert r.exit_code == 0, r.output
    assert "work directory removed" in r.output and "--keep-work-dir keeps it" in r.output
    assert not (out / ".mmdedup-work").exists()
    work = json.loads((out / "summary.json").read_text())["work_dir"]
    assert work["kept"] is False and work["bytes"] > 0
    assert work["path"] == str(out / ".mmdedup-work")
    kept = tmp_path / "kept"
    r = run(command, src, "-o", kept, "--keep-work-dir")
    assert r.exit_code == 0, r.output
    assert f"work directory kept: {kept / '.mmdedup-work'}" in r.output
    assert (kept / ".mmdedup-work").is_dir()
    assert json.loads((kept / "summary.json").read_text())["work_dir"]["kept"] is True
    # A --work-dir of the user's is emptied but stays, marked for the next run.
    mine = tmp_path / "scratch"
    r = run(command, src, "-o", tmp_path / "o3", "--work-dir", mine)
    assert r.exit_code == 0, r.output
    assert [p.name for p in mine.iterdir()] == [".mmdedup-workdir"]


def test_an_index_needs_a_kept_work_directory(text: Path, tmp_path: Path) -> None:
    assert run("dedup", text, "-o", tmp_path / "a", "-q").exit_code == 0
    r = run("dedup", text, "-o", tmp_path / "b", "--index", tmp_path / "a", "-q")
    assert r.exit_code == 1 and "--keep-work-dir" in r.output, r.output
    assert run("dedup", text, "-o", tmp_path / "c", "--keep-work-dir", "-q").exit_code == 0
    r = run("dedup", text, "-o", tmp_path / "d", "--index", tmp_path / "c", "-q")
    assert r.exit_code == 0, r.output


def mmc4_shards(root: Path, n: int = 3) -> Path:
    root.mkdir()
    for s in range(n):
        rows = [
            {
                "url": f"https://example.org/{s}/{i}",
                "text_list": [f"Shard {s} story {i}.", "Another sentence."],
                "image_info": [
                    {"raw_url": f"https://example.org/{i}.png", "matched_text_index": 0}
                ],
            }
            for i in range(4)
        ]
        (root / f"part-{s}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mmdedup", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".mmdedup" not in p.as_posix()
    }


@pytest.mark.parametrize("command", ["convert", "tokenize"])
def test_shard_wise_commands_resume_after_a_kill(command: str, tmp_path: Path) -> None:
    src = mmc4_shards(tmp_path / "in")
    vocab = tmp_path / "cl100k_base.tiktoken"
    vocab.write_text("".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256)))
    args: list[str | Path] = (
        [command, src, "--to", "obelics"]
        if command == "convert"
        else [command, src, "--tokenizer", vocab, "--ids"]
    )
    clean = cli(*args, "-o", tmp_path / "clean")
    assert clean.returncode == 0, clean.stderr
    assert "work directory removed" in clean.stdout
    assert not (tmp_path / "clean" / ".mmdedup-work").exists()
    # The interrupted run reads in pieces (--memory): the files do not depend on it.
    killed = cli(
        *args, "-o", tmp_path / "x", "--memory", "1MB", env={"MMDEDUP_CRASH_AFTER": "shard-000001"}
    )
    assert killed.returncode == -9
    assert sorted(p.name for p in (tmp_path / "x").glob("part-*")) == [
        "part-0.parquet",
        "part-1.parquet",
    ]
    again = cli(*args, "-o", tmp_path / "x")
    assert again.returncode == 1 and "--resume" in again.stderr
    other = [*args, "--on-error", "raise"]
    refused = cli(*other, "-o", tmp_path / "x", "--resume")
    assert refused.returncode == 1 and "other inputs or parameters" in refused.stderr
    resumed = cli(*args, "-o", tmp_path / "x", "--resume", "--keep-work-dir", "--memory", "1MB")
    assert resumed.returncode == 0, resumed.stderr
    assert tree(tmp_path / "x") == tree(tmp_path / "clean")
    assert (
        clean.stdout.splitlines()[0].split(" in ")[0]
        == resumed.stdout.splitlines()[0].split(" in ")[0]
    )
    assert (tmp_path / "x" / ".mmdedup-work" / "records" / "shard-000002.json").exists()
