"""MMC4 (JSON Lines): ``text_list`` sentences and ``image_info`` entries matched to sentences.

Placement rule: an image goes immediately **before** the sentence at its
``matched_text_index`` (as OpenFlamingo renders MMC4: ``<image>`` then the sentence); images
matched to the same sentence keep their ``image_info`` order. Writing back, an image's
``matched_text_index`` is the index of the next text segment; images after the last text
segment (possible only in documents from other layouts) are matched to the last sentence, and
come back before it when read again.

The round trip is lossless: ``raw_url`` becomes ``image_url``, ``image_name`` ``image_path``,
every other ``image_info`` field (``matched_sim``, ``face_detections``, ...) the segment's
``meta``; where ``image_info`` is not in sentence order, each image's position in it is kept in
``meta["mmc4_position"]``. ``similarity_matrix`` and the other keys are carried through as they
are (they are not updated when segments are removed).

Repair: an image whose ``matched_text_index`` is missing or out of range goes at the end of the
document, and is counted.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from .base import Layout, RowError, RowResult, clean_meta, json_kind
from .model import Segment, image, text

__all__ = ["MMC4"]

_OWN = ("image_name", "raw_url", "matched_text_index")


class Mmc4Layout(Layout):
    """MMC4 documents."""

    name = "mmc4"
    container = "jsonl"
    core = ("text_list", "image_info")
    order = ("url", "text_list", "image_info", "similarity_matrix")

    def read_row(self, row: dict[str, Any]) -> RowResult:
        sentences = row.get("text_list") or []
        infos = row.get("image_info") or []
        if not isinstance(sentences, list) or not isinstance(infos, list):
            raise RowError("`text_list` and `image_info` must be lists")
        for i, sentence in enumerate(sentences):
            if not isinstance(sentence, str):
                raise RowError(f"text_list[{i}] is {json_kind(sentence)}, not a string")
        n = len(sentences)
        repairs: list[str] = []
        placed: list[list[Segment]] = [[] for _ in range(n + 1)]  # slot n: the end
        indices = [
            info.get("matched_text_index") if isinstance(info, dict) else None for info in infos
        ]
        in_order = all(
            isinstance(a, int) and isinstance(b, int) and a <= b for a, b in pairwise(indices)
        )
        for k, (info, idx) in enumerate(zip(infos, indices, strict=True)):
            if not isinstance(info, dict):
                raise RowError(f"image_info[{k}] is not an object")
            for key in ("raw_url", "image_name"):
                if not isinstance(info.get(key), str | None):
                    kind = json_kind(info[key])
                    raise RowError(f"image_info[{k}].{key} is {kind}, not a string or null")
            meta = {key: v for key, v in info.items() if key not in _OWN}
            if not in_order:
                meta["mmc4_position"] = k
            if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < n:
                repairs.append(
                    f"image_info[{k}]: matched_text_index {idx!r} is not a sentence "
                    f"(0..{n - 1}): image placed at the end"
                )
                idx = n
            placed[idx].append(image(info.get("raw_url"), info.get("image_name"), meta or None))
        segments: list[Segment] = []
        for i, sentence in enumerate(sentences):
            segments.extend(placed[i])
            segments.append(text(sentence))
        segments.extend(placed[n])
        return RowResult(segments, repairs)

    def write_row(self, segments: list[Segment]) -> dict[str, Any]:
        sentences: list[str] = []
        infos: list[tuple[int, dict[str, Any]]] = []
        pending: list[dict[str, Any]] = []
        positions: list[Any] = []
        for seg in segments:
            if seg["kind"] == "text":
                for info in pending:
                    info["matched_text_index"] = len(sentences)
                pending.clear()
                sentences.append(seg["text"] or "")
                continue
            meta = clean_meta(seg, keep="mmc4_")
            meta = dict(meta) if isinstance(meta, dict) else {}
            positions.append(meta.pop("mmc4_position", None))
            info = {
                "image_name": seg["image_path"],
                "raw_url": seg["image_url"],
                "matched_text_index": 0,
                **meta,
            }
            infos.append((len(infos), info))
            pending.append(info)
        for info in pending:
            info["matched_text_index"] = max(len(sentences) - 1, 0)
        if all(isinstance(p, int) for p in positions) and sorted(positions) == list(
            range(len(positions))
        ):
            infos.sort(key=lambda kv: positions[kv[0]])
        return {"text_list": sentences, "image_info": [info for _, info in infos]}


MMC4 = Mmc4Layout()
