"""Every input of the hostile-input review's generators, through every command that reads it:
each run ends with a result or a one-line error (no traceback, no Rust panic), and leaves its
inputs as they were.

The generators live in ``../shared/reviews/hostile-input/`` (they write the inputs; nothing is
committed here); without that folder the sweep is skipped.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from mmdedup.cli import main

GENERATORS = Path(__file__).resolve().parents[2] / "shared" / "reviews" / "hostile-input"


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not GENERATORS.is_dir():
        pytest.skip(f"{GENERATORS} is not here")
    root = tmp_path_factory.mktemp("hostile")
    for script, out, extra in [
        ("gen_text_inputs.py", "text", []),
        ("gen_image_inputs.py", "images", []),
        ("gen_misc_inputs.py", "misc", []),
        ("gen_interleaved_inputs.py", "il", ["--depth", "2000"]),
    ]:
        subprocess.run(
            [sys.executable, str(GENERATORS / script), str(root / out), *extra],
            check=True,
            capture_output=True,
        )
    return root


def _cases(kind: str) -> list[str]:
    """Relative input paths for each command, as the review ran them."""
    text = [
        "text/" + n
        for n in [
            "crlf.jsonl",
            "col_large_binary.parquet",
            "col_allnull_string.parquet",
            "surrogates.jsonl",
            "zero.jsonl",
            "text_is_list.jsonl",
            "duplicate_key.jsonl",
            "zero.parquet",
            "nul_bytes.parquet",
            "nonobject_string.jsonl",
            "truncated.jsonl.gz",
            "col_struct.parquet",
            "two_objects_one_line.jsonl",
            "nonobject_array.jsonl",
            "parquet_named.jsonl",
            "col_dict.parquet",
            "col_list.parquet",
            "col_allnull_nulltype.parquet",
            "json_array.json",
            "notgzip.jsonl.gz",
            "corrupt_pages.parquet",
            "good",
            "col_int.parquet",
            "truncated_tail.parquet",
            "jsonl_named.parquet",
            "no_final_newline.jsonl",
            "invalid_json.jsonl",
            "norows.parquet",
            "bom.jsonl",
            "cr_only.jsonl",
            "col_large_string.parquet",
            "empty_dir",
            "badutf8.jsonl",
            "truncated_half.parquet",
            "nonobject_number.jsonl",
            "trailing_garbage.jsonl",
            "binary_badutf8.parquet",
            "garbage_tail.jsonl",
            "text_is_object.jsonl",
            "text_is_number.jsonl",
            "nonobject_null.jsonl",
        ]
    ] + ["misc/jsonl_mixed_types.jsonl", "misc/text_dataset", "misc/hf_cache"]
    interleaved = (
        [f"il/mmc4/{n}" for n in ("index_100.jsonl", "text_list_numbers.jsonl", "index_huge.jsonl")]
        + ["il/mmc4", "il/obelics", "il/pin"]
        + ["misc/mixed", "misc/mmc4_dupes", "misc/obelics_dupes", "misc/pin_empty_meta.jsonl"]
    )
    images = [
        "images/files",
        "images/ok",
        "images/parquet",
        "images/gif5000",
        "misc/flat_images",
        "misc/noisy_jpegs",
        "misc/photos_with_manifest",
    ] + [
        f"images/tars/{n}.tar"
        for n in (["bombs", "dir_member", "empty", "garbage", "links", "traversal", "truncated"])
    ]
    return {"dedup": text + interleaved, "images": images, "convert": interleaved}[kind]


def _run(args: list[str]) -> tuple[int, str]:
    r = CliRunner().invoke(main, args, catch_exceptions=True)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise AssertionError(
            f"{args}: {type(r.exception).__name__}: {r.exception}"
        ) from r.exception
    return r.exit_code, r.output


@pytest.mark.parametrize(
    "command,extra",
    [
        ("dedup", []),
        ("dedup", ["--on-error", "record"]),
        ("images", []),
        ("images", ["--mode", "compatible", "-m", "dhash"]),
        ("convert", ["--to", "obelics"]),
        ("convert", ["--to", "pin"]),
    ],
)
def test_every_hostile_input_ends_in_a_result_or_one_line(
    inputs: Path, tmp_path: Path, command: str, extra: list[str]
) -> None:
    before = _digest(inputs)
    outcomes: dict[str, int] = {}
    for n, case in enumerate(_cases(command)):
        if (
            command == "dedup"
            and "--on-error" in extra
            and not case.startswith(("text/", "misc/j"))
        ):
            continue
        code, output = _run([command, str(inputs / case), "-o", str(tmp_path / f"o{n}"), *extra])
        assert code in (0, 1), (case, code, output)
        assert "Traceback" not in output and "panicked" not in output, (case, output)
        if code == 1:
            line = output.strip().splitlines()[-1]
            assert line.startswith("Error: ") and len(line) > 12, (case, output)
        outcomes[case] = code
    assert _digest(inputs) == before
    assert 0 in outcomes.values()
