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
    two = mmdedup.image_hash([path], frames="all", max_frames=2)
    assert two["frame"].to_pylist() == [0, 1]
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
