"""Every frame of an animation (GIF, WebP, APNG): ``image_hashes(..., frames="all")``."""

from __future__ import annotations

import io
from pathlib import Path

import mmdedup
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageSequence, features


def frames_rgb(n: int, size: tuple[int, int] = (96, 64)) -> list[Image.Image]:
    """Different pictures: a moving bar and a moving disc on a gradient, so that each frame's
    hash differs and later frames change only part of the screen."""
    w, h = size
    grad = np.tile(np.linspace(0, 255, w, dtype=np.uint8), (h, 1))
    out = []
    for i in range(n):
        im = Image.fromarray(np.stack([grad, grad[:, ::-1], grad // 2], axis=2), "RGB")
        d = ImageDraw.Draw(im)
        d.rectangle((8 + 20 * i, 4, 20 + 20 * i, h - 4), fill=(250, 20, 20))
        d.ellipse((w - 30 - 10 * i, 10, w - 10 - 10 * i, 30), fill=(10, 200, 40))
        out.append(im)
    return out


def encoded(frames: list[Image.Image], fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], **kw)
    return buf.getvalue()


def pillow_frames(data: bytes) -> list[bytes]:
    """Each frame as Pillow composites it, stored losslessly as an RGBA PNG."""
    out = []
    with Image.open(io.BytesIO(data)) as im:
        for frame in ImageSequence.Iterator(im):
            buf = io.BytesIO()
            frame.convert("RGBA").save(buf, "PNG")
            out.append(buf.getvalue())
    return out


FORMATS = ["GIF", "PNG"] + (["WEBP"] if features.check("webp") else [])


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_frame_hashes_like_the_frame_alone(fmt: str) -> None:
    kw: dict[str, object] = {"duration": 50, "loop": 0}
    if fmt == "WEBP":
        kw["lossless"] = True
    data = encoded(frames_rgb(4), fmt, **kw)
    methods = ["phash", "dhash", "ahash"]
    t = mmdedup.image_hashes([data], methods=methods, frames="all")
    assert t.column_names[:2] == ["item", "frame"]
    assert t["item"].to_pylist() == [0, 0, 0, 0]
    assert t["frame"].to_pylist() == [0, 1, 2, 3]
    assert t["error"].null_count == 4
    alone = mmdedup.image_hashes(pillow_frames(data), methods=methods)
    first = mmdedup.image_hashes([data], methods=methods)
    for m in methods:
        got = t[m].to_pylist()
        # The first frame is exactly what frames="first" gives, whatever the format.
        assert got[0] == first[m][0].as_py()
        # The frames are told apart, and each equals the frame composited by Pillow.
        assert len(set(got)) == 4, m
        assert got[1:] == alone[m].to_pylist()[1:], m


def test_gif_partial_frames_and_disposal() -> None:
    # Pillow stores only the changed rectangle of each frame; disposal 1 keeps the previous
    # screen under it, disposal 2 clears the frame's rectangle to the background.
    frames = frames_rgb(3)
    for disposal in (1, 2):
        data = encoded(frames, "GIF", duration=40, disposal=disposal, optimize=False)
        got = mmdedup.image_hashes([data], methods=["phash"], frames="all")["phash"].to_pylist()
        alone = mmdedup.image_hashes(pillow_frames(data), methods=["phash"])
        assert got == alone["phash"].to_pylist()


def test_still_images_failures_and_limits(tmp_path: Path) -> None:
    still = io.BytesIO()
    frames_rgb(1)[0].save(still, "PNG")
    gif = encoded(frames_rgb(3), "GIF", duration=40)
    t = mmdedup.image_hashes([still.getvalue(), b"junk", gif], methods=["phash"], frames="all")
    assert t["item"].to_pylist() == [0, 1, 2, 2, 2]
    assert t["frame"].to_pylist() == [0, 0, 0, 1, 2]
    assert t["phash"].is_null().to_pylist() == [False, True, False, False, False]
    assert "cannot decode image" in t["error"][1].as_py()
    # At most max_frames frames; files are read the same way as bytes.
    path = tmp_path / "a.gif"
    path.write_bytes(gif)
    with pytest.warns(UserWarning, match="max_frames = 2"):
        two = mmdedup.image_hash([path], frames="all", max_frames=2)
    assert two["frame"].to_pylist() == [0, 1]
    assert two["frames_truncated"].to_pylist() == [True, True]
    assert two["hash"].to_pylist() == t["phash"].to_pylist()[2:4]
    # The pixel limit bounds the frames together: 96 x 64 = 6,144 pixels a frame.
    capped = mmdedup.image_hashes([gif], methods=["phash"], frames="all", pixel_limit=6144 * 2)
    assert capped["phash"].null_count == 1
    assert "exceeds the limit" in capped["error"][0].as_py()
    assert (
        mmdedup.image_hashes([gif], methods=["phash"], pixel_limit=6144 * 2)["error"][0].as_py()
        is None
    )
    # The default is the first frame only, with no item/frame columns.
    assert "frame" not in mmdedup.image_hashes([gif], methods=["phash"]).column_names
    with pytest.raises(ValueError, match="frames"):
        mmdedup.image_hashes([gif], frames="every")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_frames"):
        mmdedup.image_hashes([gif], frames="all", max_frames=0)


def test_item_clusters_equal_brute_force() -> None:
    rng = np.random.default_rng(5)
    base = rng.integers(0, 2**63, size=40, dtype=np.uint64)
    values = np.concatenate([base, base[:15] ^ np.uint64(0b101), base[:5]])
    items = rng.integers(0, 25, size=len(values))
    items[:25] = np.arange(25)  # every item owns a row
    k = 3
    labels, counts = mmdedup.item_clusters(values, items, max_distance=k)
    near = [[bin(int(a) ^ int(b)).count("1") <= k for b in values] for a in values]
    m = 25
    adj = np.zeros((m, m), dtype=bool)
    for r in range(len(values)):
        for c in range(len(values)):
            if near[r][c]:
                adj[items[r], items[c]] = True
    assert counts.tolist() == adj.sum(axis=1).tolist()
    # Clusters: connected components of the item graph, named by their smallest item.
    want = list(range(m))
    for _ in range(m):
        for i in range(m):
            for j in range(m):
                if adj[i, j]:
                    want[i] = want[j] = min(want[i], want[j])
    sizes = np.bincount(want, minlength=m)
    assert labels.tolist() == [w if sizes[w] > 1 else -1 for w in want]
    # One row per item: the plain functions.
    one = np.arange(len(values))
    l1, c1 = mmdedup.item_clusters(values, one, max_distance=k)
    assert l1.tolist() == mmdedup.hamming_clusters(values, max_distance=k).tolist()
    assert c1.tolist() == mmdedup.neighbour_counts(values, max_distance=k).tolist()


def test_cli_frames_all(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from mmdedup.cli import main

    a = frames_rgb(3)
    other = [Image.fromarray(255 - np.asarray(f)) for f in frames_rgb(3)]
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.gif").write_bytes(encoded(a, "GIF", duration=40))
    # b shares a's second frame only; c is a's last frame, still; d is unrelated.
    (src / "b.gif").write_bytes(encoded([other[0], a[1]], "GIF", duration=40))
    a[2].save(src / "c.png")
    other[2].transpose(Image.Transpose.ROTATE_90).save(src / "d.png")
    (src / "e.gif").write_bytes(b"GIF89a broken")
    runner = CliRunner()
    keep = ["-q", "--keep-work-dir"]
    for frames in ("first", "all"):
        r = runner.invoke(
            main,
            ["images", str(src), "-o", str(tmp_path / frames), "--frames", frames, *keep],
        )
        assert r.exit_code == 0, r.output
    import pyarrow.parquet as pq

    first = pq.read_table(tmp_path / "first" / "clusters.parquet").to_pydict()
    every = pq.read_table(tmp_path / "all" / "clusters.parquet").to_pydict()
    names = [Path(k).name for k in every["key"]]
    assert names == ["a.gif", "b.gif", "c.png", "d.png", "e.gif"]
    assert every["frames"] == [3, 2, 1, 1, 1]
    assert every["cluster"] == [0, 0, 0, None, None]
    assert every["count"] == [3, 2, 2, 1, 0]
    assert every["status"] == ["kept", "duplicate", "duplicate", "unique", "error"]
    # The first frames alone do not match; the hashes reported are the first frames' in both.
    assert first["cluster"] == [None] * 5
    assert every["hash"] == first["hash"]
    assert "frames" not in first
    summary = (tmp_path / "all" / "summary.json").read_text()
    assert '"frames": 8' in summary
    # --resume with the other setting is refused, naming it.
    r = runner.invoke(
        main, ["images", str(src), "-o", str(tmp_path / "all"), "--frames", "first", "--resume"]
    )
    assert r.exit_code != 0 and "frames" in r.output
    # Without its work directory a finished run has nothing to resume: refused, not rerun.
    r = runner.invoke(main, ["images", str(src), "-o", str(tmp_path / "x"), "-q"])
    assert r.exit_code == 0, r.output
    before = (tmp_path / "x" / "clusters.parquet").read_bytes()
    r = runner.invoke(
        main, ["images", str(src), "-o", str(tmp_path / "x"), "--frames", "all", "--resume"]
    )
    assert r.exit_code == 1 and "nothing to resume" in r.output, r.output
    assert (tmp_path / "x" / "clusters.parquet").read_bytes() == before
