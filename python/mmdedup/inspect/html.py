"""Draws a :class:`~mmdedup.inspect.model.Report` as one self-contained HTML page.

Inline CSS and SVG only; a few lines of inline script add "copy" buttons, and the page reads the
same without them. Every string from the data is escaped (``html.escape``); an image's ``src``
is a ``data:image/...;base64`` URI, or an ``http(s):``/``file:`` address as an escaped attribute
(anything else, such as ``javascript:``, is shown as text, never linked).
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Sequence
from html import escape

from .model import Cluster, Member, Report, Segment
from .svg import bars, hbars, histogram

__all__ = ["render", "safe_src", "word_diff"]

_CSS = """
.mmdedup-report{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;
 max-width:1400px;margin:0 auto;padding:0 16px 40px}
.mmdedup-report h1{font-size:22px;margin:16px 0 4px}.mmdedup-report h2{font-size:18px;
 border-bottom:2px solid #4c78a8;padding-bottom:2px;margin-top:28px}
.mmdedup-report nav a{margin-right:14px}
.mmdedup-report table{border-collapse:collapse;margin:6px 0}
.mmdedup-report td,.mmdedup-report th{border:1px solid #ccc;padding:2px 8px;text-align:left;
 vertical-align:top}
.mmdedup-report th{background:#eef2f7}.mmdedup-report td.n{text-align:right}
.mmdedup-report .grid{display:flex;flex-wrap:wrap;gap:16px}
.mmdedup-report figure{margin:0;flex:1 1 400px;max-width:560px}
.mmdedup-report svg.plot{width:100%;height:auto}
.mmdedup-report .params code{display:inline-block;margin:1px 2px;background:#f3f3f3;padding:0 4px}
.mmdedup-report h3{font-size:15px;margin:10px 0 4px}
.mmdedup-report .big{font-size:20px;font-weight:bold}
.mmdedup-report .cluster{border:1px solid #bbb;border-radius:6px;margin:14px 0;padding:8px 12px;
 background:#fafbfc}
.mmdedup-report .cluster h3{margin:2px 0 6px;font-size:15px}
.mmdedup-report .tag{display:inline-block;background:#e6eef8;border-radius:3px;padding:0 6px;
 margin-left:6px;font-size:12px;font-weight:normal}
.mmdedup-report .pair{display:grid;grid-template-columns:1fr 1fr;gap:12px;margin:8px 0}
.mmdedup-report .doc{border:1px solid #ddd;border-radius:4px;background:#fff;padding:6px 8px;
 min-width:0}
.mmdedup-report .doc.kept{border-color:#2ca02c}.mmdedup-report .doc.removed{border-color:#ff7f0e}
.mmdedup-report .text{white-space:pre-wrap;overflow-wrap:anywhere;max-height:420px;overflow:auto;
 font-size:13px}
.mmdedup-report del{background:#fdd;text-decoration:line-through}
.mmdedup-report ins{background:#dfd;text-decoration:none}
.mmdedup-report .sim{font-weight:bold}.mmdedup-report .below{color:#c00}
.mmdedup-report code.ids,.mmdedup-report pre.ids{font-size:12px;background:#f3f3f3;padding:1px 4px;
 overflow-wrap:anywhere;white-space:pre-wrap;display:block}
.mmdedup-report .seg-img{display:inline-block;margin:4px 0;max-width:100%}
.mmdedup-report .seg-img img,.mmdedup-report .thumb img{max-width:256px;max-height:256px;
 border:1px solid #ccc;background:#eee}
.mmdedup-report .thumbs{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
.mmdedup-report .thumbs .doc{flex:0 1 300px}
.mmdedup-report .muted{color:#666;font-size:12px}
.mmdedup-report button.copy{font-size:11px;margin:2px 0}
"""

_SCRIPT = """
document.querySelectorAll('.mmdedup-report .ids').forEach(function (el) {
  var b = document.createElement('button');
  b.className = 'copy'; b.type = 'button'; b.textContent = 'copy ids';
  b.addEventListener('click', function () {
    if (navigator.clipboard) { navigator.clipboard.writeText(el.textContent); }
    b.textContent = 'copied';
  });
  el.insertAdjacentElement('afterend', b);
});
"""


_REMOVED = ("duplicate", "near_duplicate", "identical_images")
_TOKEN = re.compile(r"\s*\S+\s*|\s+")


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def safe_src(src: str | None) -> str | None:
    """``src`` when it is safe as an image address (``data:image/...;base64``, ``http(s):``,
    ``file:``), else None.

    >>> safe_src("javascript:alert(1)") is None, safe_src("https://x/a.png")
    (True, 'https://x/a.png')
    """
    if not src:
        return None
    s = src.strip()
    low = s.lower()
    if low.startswith("data:image/") and ";base64," in low and not low.startswith("data:image/svg"):
        return s
    if low.startswith(("http://", "https://", "file:")):
        return s
    return None


def _key(token: str) -> str:
    """A word as the run's normalization sees it (NFKC, case folded, letters and digits)."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", token).casefold() if ch.isalnum())


def word_diff(a: str, b: str) -> tuple[str, str]:
    """Escaped HTML of ``a`` with the words missing from ``b`` in ``<del>``, and of ``b`` with
    the words missing from ``a`` in ``<ins>``. Words are compared as the run normalizes them:
    case and punctuation changes are not differences.

    >>> word_diff("the cat sat", "The dog sat!")
    ('the <del>cat </del>sat', 'The <ins>dog </ins>sat!')
    """
    ta, tb = _TOKEN.findall(a), _TOKEN.findall(b)
    wa, wb = [_key(t) for t in ta], [_key(t) for t in tb]
    left, right = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes():
        x, y = _e("".join(ta[i1:i2])), _e("".join(tb[j1:j2]))
        if op == "equal":
            left.append(x)
            right.append(y)
            continue
        if x:
            left.append(f"<del>{x}</del>")
        if y:
            right.append(f"<ins>{y}</ins>")
    return "".join(left), "".join(right)


def _table(rows: Sequence[tuple[object, ...]], head: tuple[str, ...]) -> str:
    out = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for r in rows:
        cells = [
            f'<td class="n">{v:,}</td>'
            if isinstance(v, int) and not isinstance(v, bool)
            else f"<td>{_e(v)}</td>"
            for v in r
        ]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _ids(m: Member) -> str:
    return json.dumps(m.ids, ensure_ascii=False, default=str)


def _sim(m: Member, r: Report) -> str:
    p = r.precision
    bits = []
    lower = p.lower_is_similar
    if m.distance is not None:
        cls = " below" if m.distance > p.threshold else ""
        bits.append(f'<span class="sim{cls}">Hamming distance {m.distance}</span>')
    if m.similarity is not None:
        cls = " below" if (not lower and m.similarity < p.threshold) else ""
        bits.append(f'<span class="sim{cls}">exact Jaccard {m.similarity:.3f}</span>')
    if m.estimate is not None:
        bits.append(f"MinHash estimate {m.estimate:.3f}")
    return " · ".join(bits) or '<span class="muted">similarity not measured</span>'


def _segments(segs: tuple[Segment, ...]) -> str:
    out = []
    for s in segs:
        if s.kind == "text":
            out.append(f'<div class="text">{_e(s.text)}</div>')
            continue
        src = safe_src(s.src)
        img = (
            f'<img src="{_e(src)}" alt="{_e(s.text or s.label)}" loading="lazy">'
            if src
            else '<span class="muted">[image not shown]</span>'
        )
        out.append(
            f'<figure class="seg-img">{img}<figcaption class="muted">{_e(s.label)}</figcaption>'
            "</figure>"
        )
    return "".join(out)


def _doc(m: Member, r: Report, body: str, anchor: bool = True) -> str:
    """One member; only its first appearance carries its anchor (the kept member is shown
    beside each removed one)."""
    role = "kept" if m.keep else "removed"
    head = f"<b>{_e(m.status)}</b>"
    if not m.keep:
        head += " · " + _sim(m, r)
    note = f'<div class="muted">{_e(m.note)}</div>' if m.note else ""
    trunc = '<div class="muted">(text shortened for display)</div>' if m.truncated else ""
    ident = f' id="{_e(m.anchor)}"' if anchor else ""
    return (
        f'<div class="doc {role}"{ident}><div>{head}</div>'
        f'<code class="ids">{_e(_ids(m))}</code>{note}{body}{trunc}</div>'
    )


def _cluster(c: Cluster, r: Report) -> str:
    tags = "".join(f'<span class="tag">{_e(t)}</span>' for t in c.reasons)
    lines = "\n".join(_ids(m) for m in ([c.kept] if c.kept else []) + list(c.members))
    out = [
        f'<article class="cluster" id="{_e(c.anchor)}">',
        f'<h3><a href="#{_e(c.anchor)}">cluster {c.label}</a> · {c.size:,} members{tags}</h3>',
        f'<pre class="ids">{_e(lines)}</pre>',
    ]
    if c.kept is None:
        out.append('<p class="muted">The kept member is not in this run\'s results.</p>')
    if r.kind == "images":
        cells = [m for m in ([c.kept] if c.kept else []) + list(c.members)]
        out.append('<div class="thumbs">')
        for m in cells:
            t = m.thumb
            img = (
                f'<div class="thumb"><img src="{_e(safe_src(t.data_uri))}" alt="image"></div>'
                if t is not None and safe_src(t.data_uri)
                else f'<div class="muted">{_e(t.error if t else "no preview")}</div>'
            )
            size = (
                f"{t.width}×{t.height} px, {t.size_bytes:,} bytes"
                if t is not None and t.width and t.size_bytes is not None
                else ""
            )
            out.append(_doc(m, r, img + f'<div class="muted">{_e(size)}</div>'))
        out.append("</div>")
    else:
        for j, m in enumerate(c.members):
            k = c.kept
            if r.kind == "text":
                left, right = word_diff(k.text or "", m.text or "") if k else ("", _e(m.text or ""))
                lb, rb = f'<div class="text">{left}</div>', f'<div class="text">{right}</div>'
            else:
                left, right = word_diff(k.text or "", m.text or "") if k else ("", "")
                diff = (
                    "<details><summary>word diff of the text the rule hashed</summary>"
                    '<div class="text">{}</div></details>'
                )
                lb = _segments(k.segments if k else ()) + diff.format(left)
                rb = _segments(m.segments) + diff.format(right)
            kept_html = (
                _doc(k, r, lb, anchor=j == 0)
                if k
                else '<div class="doc muted">kept member not found</div>'
            )
            out.append(f'<div class="pair">{kept_html}{_doc(m, r, rb)}</div>')
    out.append("</article>")
    return "".join(out)


def _precision(r: Report) -> str:
    p = r.precision
    out = ['<section id="precision"><h2>Precision estimate</h2>']
    if p.precision is not None and p.ci95 is not None:
        out.append(
            f'<p><span class="big">{p.precision:.1%}</span> of {p.pairs:,} sampled removals '
            f"have {_e(p.rule)} against the kept member of their cluster (Wilson 95% interval "
            f"{p.ci95[0]:.1%} – {p.ci95[1]:.1%}); {p.below:,} "
            f"({(p.below_share or 0):.1%}) fall outside it.</p>"
        )
    out.append(
        f'<p class="muted">Sampled {p.pairs:,} of {p.population:,} removed members (seed '
        f"{p.seed}); each is measured exactly ({_e(p.measure)}) against its cluster's kept "
        "member. A member outside the rule joined its cluster through other members "
        "(clusters are connected components)"
        + (" or by a MinHash estimate above the exact value" if p.measure == "jaccard" else "")
        + ".</p>"
    )
    if p.note:
        out.append(f'<p class="muted">{_e(p.note)}</p>')
    out.append("</section>")
    return "".join(out)


def _plots(r: Report) -> str:
    sizes = list(r.cluster_sizes.items())
    if len(sizes) > 20:
        head, tail = sizes[:19], sizes[19:]
        sizes = [*head, (tail[0][0], sum(c for _, c in tail))]
        labels = [(str(s), c) for s, c in sizes[:-1]] + [(f"{sizes[-1][0]}+", sizes[-1][1])]
    else:
        labels = [(str(s), c) for s, c in sizes]
    p = r.precision
    if p.lower_is_similar:
        top = int(max([p.threshold + 2, *r.similarities]))
        hist = histogram(
            r.similarities,
            lo=0,
            hi=top + 1,
            bins=top + 1,
            threshold=p.threshold + 1,
            title="Hamming distance of sampled pairs",
            xlabel="bits that differ from the kept member",
            mark=f"≤ {p.threshold:g}",
        )
    else:
        hist = histogram(
            r.similarities,
            lo=0.0,
            hi=1.0,
            bins=20,
            threshold=p.threshold,
            title="Exact Jaccard of sampled pairs",
            xlabel="similarity to the kept member",
        )
    ranked = sorted(r.shards, key=lambda s: (-s.removed_total, s.shard))[:30]
    return (
        '<section id="plots"><h2>Plots</h2><div class="grid">'
        f'<figure id="plot-cluster-sizes">{bars(labels, title="Cluster sizes", xlabel="members per cluster", ylabel="clusters")}</figure>'
        f'<figure id="plot-similarity">{hist}</figure>'
        f'<figure id="plot-shards">{hbars([(s.shard, s.removed_total, s.documents) for s in ranked], title="Removals per shard" + (" (top 30)" if len(r.shards) > 30 else ""))}</figure>'
        "</div></section>"
    )


def _summary(r: Report) -> str:
    s = r.summary
    docs = sum(r.status.values())
    kept = docs - sum(c for st, c in r.status.items() if st in _REMOVED)
    what = "images" if r.kind == "images" else "documents"
    clusters = sum(r.cluster_sizes.values())
    out = [
        '<section id="summary"><h2>Summary</h2>',
        f'<p class="big">{docs:,} {what}: kept {kept:,}, removed {docs - kept:,} '
        f"in {clusters:,} clusters</p>",
        "<p>Inputs: " + ", ".join(f"<code>{_e(i)}</code>" for i in r.inputs),
    ]
    for key in ("column", "id_column", "keep", "formats"):
        if s.get(key) is not None:
            out.append(f" · {_e(key)} <code>{_e(s[key])}</code>")
    out.append('</p><p class="params">Parameters: ')
    out.append(
        " ".join(f"<code>{_e(k)}={_e(json.dumps(v))}</code>" for k, v in r.parameters.items())
    )
    out.append('</p><div class="grid"><div><h3>Status</h3>')
    out.append(_table(sorted(r.status.items()), ("status", what)))
    out.append("</div><div><h3>Removed, by reason</h3>")
    out.append(_table(sorted(r.removed.items()), ("reason", "removed")))
    out.append("</div><div><h3>Per shard</h3>")
    shards = sorted(r.shards, key=lambda x: (-x.removed_total, x.shard))
    rows = [
        (
            x.shard,
            x.documents,
            x.kept,
            x.removed_total,
            ", ".join(f"{k} {v:,}" for k, v in sorted({**x.removed, **x.parts}.items())),
        )
        for x in shards[:200]
    ]
    out.append(_table(rows, ("shard", what, "kept", "removed", "by reason")))
    if len(shards) > 200:
        out.append(f'<p class="muted">{len(shards) - 200:,} more shards not listed.</p>')
    out.append("</div></div></section>")
    return "".join(out)


def render(r: Report, *, fragment: bool = False) -> str:
    """The page (or, with ``fragment``, a ``<div>`` with its own style, for notebooks)."""
    links = "".join(
        f'<li><a href="#{_e(c.anchor)}">cluster {c.label}</a> ({c.size:,}; {_e(", ".join(c.reasons))})</li>'
        for c in r.clusters
    )
    notes = "".join(f"<li>{_e(n)}</li>" for n in r.notes)
    body = (
        f'<div class="mmdedup-report"><h1>mmdedup inspect: {_e(r.kind)} run</h1>'
        f'<p class="muted"><code>{_e(r.outdir)}</code> · mmdedup '
        f"{_e(r.summary.get('mmdedup_version', '?'))} · sample {r.sample} · seed {r.seed}</p>"
        '<nav><a href="#summary">Summary</a><a href="#precision">Precision</a>'
        '<a href="#plots">Plots</a><a href="#clusters">Clusters</a></nav>'
        + (f'<section id="notes"><h2>Notes</h2><ul>{notes}</ul></section>' if notes else "")
        + _summary(r)
        + _precision(r)
        + _plots(r)
        + '<section id="clusters"><h2>Clusters</h2>'
        + (f"<ul>{links}</ul>" if links else "<p>No duplicate cluster.</p>")
        + "".join(_cluster(c, r) for c in r.clusters)
        + "</section></div>"
    )
    if fragment:
        return f"<style>{_CSS}</style>{body}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>mmdedup inspect: {_e(r.outdir)}</title><style>{_CSS}</style></head>"
        f"<body>{body}<script>{_SCRIPT}</script></body></html>\n"
    )
