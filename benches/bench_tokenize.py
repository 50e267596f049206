"""LLM token counting throughput of mmdedup against Hugging Face `tokenizers` and `tiktoken`,
side by side in one process, on the same texts, at 1 and 2 threads.

Texts: the source files of ``text/sdists.parquet`` plus the Debian handbook documents of
``interleaved/handbook.obelics.parquet`` rendered with the IDEFICS template (about 13 MB). The
tokenizer is a byte-level BPE with a 32,000-token vocabulary trained on those texts with
`tokenizers` (cached in the temporary directory); the rank file for the tiktoken rows is the
same vocabulary as mergeable ranks.

Contenders, each checked to give the same counts first:

- ``tokenizers encode_batch``: ``[e.ids for e in tok.encode_batch(texts)]``.
- ``tokenizers counts``: ``[len(e) for e in tok.encode_batch_fast(texts)]``, the cheapest way
  to count with it (no offsets).
- ``mmdedup count`` / ``encode``: ``load_tokenizer(path).count(texts)`` (a uint32 array) and
  ``.encode(texts)`` (an Arrow ``list<uint32>``), texts as one ``pa.Array``.
- ``tiktoken encode_ordinary_batch(num_threads=n)`` against mmdedup on the rank file.

Threads: `tokenizers` runs its rayon pool with ``RAYON_NUM_THREADS=2`` (set before import) and
``TOKENIZERS_PARALLELISM=false`` for one thread; mmdedup uses ``set_num_threads``; tiktoken its
``num_threads``. Every round runs every contender once (round robin); tables show medians.
Before timing, the script waits (``--max-wait``, 30 minutes) until no ``rustc``/``cargo`` runs,
holds ``flock /tmp/mmdedup-bench.lock`` while it times, and reports rounds begun during a compile.

Run ``python benches/bench_tokenize.py`` (``--repeats 5``) or ``--mb 2`` for a quick look.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("RAYON_NUM_THREADS", "2")

import mmdedup
import pyarrow as pa
import pyarrow.parquet as pq

CORPORA = Path.home() / ".cache/mmdedup-corpora"
LOCK = "/tmp/mmdedup-bench.lock"


def load_texts(mb: float | None) -> list[str]:
    texts = [t for t in pq.read_table(CORPORA / "text/sdists.parquet")["text"].to_pylist() if t]
    docs = mmdedup.read_documents(CORPORA / "interleaved/handbook.obelics.parquet")
    texts += mmdedup.render(docs, template="idefics").to_pylist()
    if mb is None:
        return texts
    # Some texts spread over both sources first, then the texts in order, up to about `mb`.
    out, size = [], 0
    for t in texts[:: max(1, int(len(texts) * 2e6 / (mb * 1e6) / 13))] + texts:
        if size >= mb * 1e6:
            break
        out.append(t)
        size += len(t.encode())
    return out


def train(texts: list[str], path: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=32000,
        special_tokens=["<s>", "</s>", "<image>", "<fake_token_around_image>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    tok.save(str(path))


def to_ranks(tokenizer_json: Path, out: Path) -> dict[bytes, int]:
    """The byte-level vocabulary as tiktoken mergeable ranks, in id order."""
    from tokenizers import Tokenizer

    bs = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    cs = bs[:]
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + len(cs) - 188)
    dec = {chr(c): b for b, c in zip(bs, cs, strict=True)}
    ranks: dict[bytes, int] = {bytes([b]): b for b in range(256)}
    vocab = Tokenizer.from_file(str(tokenizer_json)).get_vocab(with_added_tokens=False)
    for token, _ in sorted(vocab.items(), key=lambda kv: kv[1]):
        raw = bytes(dec[c] for c in token)
        ranks.setdefault(raw, len(ranks))
    out.write_text("".join(f"{base64.b64encode(t).decode()} {r}\n" for t, r in ranks.items()))
    return ranks


@contextmanager
def quiet_machine(max_wait: float) -> Iterator[bool]:
    """Waits (up to ``max_wait`` seconds) until no compile runs, then holds the bench lock;
    yields whether the machine was free of compiles."""
    deadline = time.monotonic() + max_wait
    quiet = False
    while not (quiet := not _compiling()) and time.monotonic() < deadline:
        print("  (a compile is running; waiting 10 s)", file=sys.stderr)
        time.sleep(10)
    with open(LOCK, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield quiet
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _compiling() -> bool:
    return any(
        subprocess.run(["pgrep", "-x", n], capture_output=True).returncode == 0
        for n in ("rustc", "cargo")
    )


def hf_threads(n: int) -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if n > 1 else "false"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=None, help="cut the texts to about this size")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--max-wait", type=float, default=1800, help="seconds to wait for no compile")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "mmdedup-tok")
    args = ap.parse_args(argv)

    import tiktoken
    import tokenizers
    from tokenizers import Tokenizer

    texts = load_texts(args.mb)
    arr = pa.array(texts, pa.string())
    mb = sum(len(t.encode()) for t in texts) / 1e6
    args.workdir.mkdir(parents=True, exist_ok=True)
    tj = args.workdir / "bpe32k.json"
    if not tj.exists():
        print("training a 32k byte-level BPE on the corpus ...", file=sys.stderr)
        train(load_texts(None), tj)
    ranks = to_ranks(tj, args.workdir / "bpe32k.tiktoken")
    pattern = mmdedup._core.tiktoken_pattern("cl100k_base")
    hf = Tokenizer.from_file(str(tj))
    ours = mmdedup.load_tokenizer(tj)
    ours_ranks = mmdedup.load_tokenizer(
        args.workdir / "bpe32k.tiktoken", pattern="cl100k_base", special_tokens={}
    )
    enc = tiktoken.Encoding(
        "bpe32k", pat_str=str(pattern), mergeable_ranks=ranks, special_tokens={}
    )

    # Same counts first.
    want = [len(e.ids) for e in hf.encode_batch(texts)]
    assert ours.count(arr).tolist() == want, "mmdedup and tokenizers disagree"
    assert [len(e) for e in hf.encode_batch_fast(texts)] == want
    tk = [len(x) for x in enc.encode_ordinary_batch(texts)]
    assert ours_ranks.count(arr).tolist() == tk, "mmdedup and tiktoken disagree"
    tokens, tokens_tk = sum(want), sum(tk)

    def contenders(n: int) -> list[tuple[str, str, Callable[[], Any], int]]:
        return [
            ("tokenizer.json", f"tokenizers encode_batch  {n}t", lambda: [e.ids for e in hf.encode_batch(texts)], tokens),
            ("tokenizer.json", f"tokenizers counts        {n}t", lambda: [len(e) for e in hf.encode_batch_fast(texts)], tokens),
            ("tokenizer.json", f"mmdedup count            {n}t", lambda: ours.count(arr), tokens),
            ("tokenizer.json", f"mmdedup encode           {n}t", lambda: ours.encode(arr), tokens),
            ("rank file", f"tiktoken encode_ordinary {n}t", lambda: enc.encode_ordinary_batch(texts, num_threads=n), tokens_tk),
            ("rank file", f"mmdedup count            {n}t", lambda: ours_ranks.count(arr), tokens_tk),
            ("rank file", f"mmdedup encode           {n}t", lambda: ours_ranks.encode(arr), tokens_tk),
        ]  # fmt: skip

    runs = [(n, c) for n in (1, 2) for c in contenders(n)]
    times: dict[tuple[str, str], list[float]] = {(c[0], c[1]): [] for _, c in runs}
    busy_rounds = 0
    with quiet_machine(args.max_wait) as quiet:
        if not quiet:
            print("  (still compiling; timing anyway)", file=sys.stderr)
        for r in range(args.repeats + 1):  # round 0 warms up
            busy_rounds += r > 0 and _compiling()
            for n, (kind, name, fn, _) in runs:
                hf_threads(n)
                mmdedup.set_num_threads(n)
                t0 = time.perf_counter()
                fn()
                if r:
                    times[kind, name].append(time.perf_counter() - t0)
            print(f"  round {r}/{args.repeats} done", file=sys.stderr)

    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"\n{len(texts):,} texts, {mb:.1f} MB; {tokens:,} tokens (tokenizer.json), "
        f"{tokens_tk:,} (rank file); tokenizers {tokenizers.__version__}, tiktoken "
        f"{tiktoken.__version__}; medians of {args.repeats}; {busy_rounds} round(s) began "
        "while a compile ran"
    )
    print(f"{'file':<15} {'contender':<29} {'wall s':>7} {'Mtok/s':>7} {'MB/s':>6}")
    for _, (kind, name, _, n_tok) in runs:
        w = med[kind, name]
        print(f"{kind:<15} {name:<29} {w:>7.3f} {n_tok / w / 1e6:>7.2f} {mb / w:>6.2f}")

    def m(kind: str, name: str, n: int) -> float:
        return med[kind, f"{name:<24} {n}t"]

    print("\nspeed-ups (median wall time of the other / mmdedup's):")
    tj_, rk = "tokenizer.json", "rank file"
    for n in (1, 2):
        pairs = [
            ("tokenizers encode_batch / mmdedup encode", m(tj_, "tokenizers encode_batch", n), m(tj_, "mmdedup encode", n)),
            ("tokenizers counts / mmdedup count", m(tj_, "tokenizers counts", n), m(tj_, "mmdedup count", n)),
            ("tiktoken / mmdedup encode", m(rk, "tiktoken encode_ordinary", n), m(rk, "mmdedup encode", n)),
            ("tiktoken / mmdedup count", m(rk, "tiktoken encode_ordinary", n), m(rk, "mmdedup count", n)),
        ]  # fmt: skip
        for label, other, mine in pairs:
            print(f"  {n} thread(s): {label:<42} {other / mine:5.2f}x")
    for kind, name in (
        (tj_, "tokenizers encode_batch"),
        (tj_, "mmdedup count"),
        (rk, "mmdedup count"),
    ):
        print(
            f"  2 threads / 1 thread, {name} ({kind}): {m(kind, name, 1) / m(kind, name, 2):.2f}x"
        )


if __name__ == "__main__":
    main()
