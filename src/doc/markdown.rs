//! Markdown to ordered text and image segments (CommonMark with GFM tables and `$` math, via
//! pulldown-cmark).
//!
//! Each block (paragraph, heading, list item, code block, table, HTML block) gives one text
//! segment; an image splits the block it sits in. A segment keeps two texts: `text`, the plain
//! text with markup stripped (what dedup hashes), and `span`, the byte range of its markdown
//! source (what is written back). Spans are in order and never overlap; what lies between them
//! (blank lines, link reference definitions, thematic breaks) is in no segment, so a caller that
//! keeps those gaps can rebuild the source byte for byte.
//!
//! Images are `![alt](src)`, reference-style `![alt][ref]` with a definition, and HTML `<img>`
//! tags (src and alt attributes). Code and math stay text: `![x](y)` inside a code fence is code.
//! Repair of dangling image links: `![alt]()` (no src) and `![alt][ref]` without a definition
//! stay text, their source unchanged and their plain text the alt text (or the literal source),
//! and are counted in [`Parsed::dangling`].

use std::ops::Range;

use pulldown_cmark::{BrokenLink, Options, Parser};

use super::builder::Builder;
use super::model::Parsed;

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_MATH | Options::ENABLE_STRIKETHROUGH
}

/// Documents longer than this many bytes are parsed in windows of at most about this size.
///
/// pulldown-cmark builds the tree of a whole document before the first event, 50 to 100 bytes
/// per markup token (a table cell, an emphasis, a code span, a line): a 10 MB table of 100,000
/// columns took 0.5 GB, 10 MB of `*a*` 0.9 GB. Cut into windows, a document needs at most that
/// much per window whatever its length. The cuts fall on a blank line outside fenced code in
/// the window's second half where there is one, else on a line end, else after a space: blocks
/// that straddle a cut (only possible in documents over a megabyte) become two segments, and
/// markup open across it is read as text. Link reference definitions apply across windows;
/// where one label is defined in several windows, a window's own definition wins over an
/// earlier window's (CommonMark: the first in the document).
pub const WINDOW: usize = 1 << 20;

/// Splits one markdown document into segments.
pub fn parse(md: &str) -> Parsed {
    let mut parsed = if md.len() <= WINDOW {
        parse_window(md, &Definitions::new())
    } else {
        let windows = windows(md);
        let defs = if md.contains("]:") {
            definitions(md, &windows)
        } else {
            Definitions::new()
        };
        let mut all = Parsed::default();
        for w in windows {
            let p = parse_window(&md[w.clone()], &defs);
            all.dangling += p.dangling;
            all.segments.extend(p.segments.into_iter().map(|mut seg| {
                seg.span = seg.span.start + w.start..seg.span.end + w.start;
                seg
            }));
        }
        all
    };
    // Spans must be ordered and disjoint for the source to be rebuilt from them; an HTML event
    // inside a container can only give its whole range, so clamp rather than trust.
    let mut at = 0;
    for s in &mut parsed.segments {
        s.span.start = s.span.start.max(at);
        s.span.end = s.span.end.max(s.span.start);
        at = s.span.end;
    }
    parsed
}

/// Link reference definitions by normalised label: (destination, title).
type Definitions = std::collections::HashMap<String, (String, String)>;

/// A link label as definitions are matched: whitespace runs as one space, case folded.
fn label_key(label: &str) -> String {
    label
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The link reference definitions of every window, the first of each label kept.
fn definitions(md: &str, windows: &[Range<usize>]) -> Definitions {
    let mut defs = Definitions::new();
    for w in windows {
        let parser = Parser::new_ext(&md[w.clone()], options());
        for (label, def) in parser.reference_definitions().iter() {
            defs.entry(label_key(label)).or_insert_with(|| {
                let title = def.title.as_deref().unwrap_or("").to_owned();
                (def.dest.to_string(), title)
            });
        }
    }
    defs
}

/// The segments of one window (spans relative to it); `defs` resolves references the window
/// does not define.
fn parse_window(md: &str, defs: &Definitions) -> Parsed {
    let mut broken_images = 0usize;
    let callback = |link: BrokenLink<'_>| {
        if let Some((dest, title)) = defs.get(&label_key(&link.reference)) {
            return Some((dest.clone().into(), title.clone().into()));
        }
        // Called for every `[x]` without a definition; only those after `!` were images.
        let s = link.span.start;
        if md.as_bytes().get(s) == Some(&b'!') || (s > 0 && md.as_bytes()[s - 1] == b'!') {
            broken_images += 1;
        }
        None
    };
    let parser = Parser::new_with_broken_link_callback(md, options(), Some(callback));
    let mut b = Builder::new(md);
    for (event, range) in parser.into_offset_iter() {
        b.event(event, range);
    }
    b.flush();
    let mut parsed = b.out;
    parsed.dangling += broken_images;
    parsed
}

/// The windows [`parse`] cuts a document longer than [`WINDOW`] into.
fn windows(md: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    while md.len() - start > WINDOW {
        let end = cut(md, start);
        out.push(start..end);
        start = end;
    }
    out.push(start..md.len());
    out
}

/// Where the window starting at `start` ends: after the last blank line outside fenced code in
/// its second half, else after the last line end or space there, else at a character boundary
/// `WINDOW` bytes on.
fn cut(md: &str, start: usize) -> usize {
    let mut end = start + WINDOW;
    while !md.is_char_boundary(end) {
        end -= 1;
    }
    let half = start + WINDOW / 2;
    let bytes = md.as_bytes();
    let mut fence: Option<(u8, usize)> = None;
    let (mut blank, mut line) = (None, None);
    let mut pos = start;
    while pos < end {
        let eol = bytes[pos..end]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(end, |i| pos + i);
        let text = &bytes[pos..eol];
        let indent = text.iter().take_while(|&&b| b == b' ').count();
        let rest = &text[indent..];
        let run = rest
            .iter()
            .take_while(|&&b| Some(&b) == rest.first())
            .count();
        if indent < 4 && run >= 3 && matches!(rest.first(), Some(b'`' | b'~')) {
            fence = match fence {
                None => Some((rest[0], run)),
                Some((c, n)) if c == rest[0] && run >= n => None,
                open => open,
            };
        }
        if (half..end).contains(&eol) {
            line = Some(eol + 1);
            if fence.is_none() && text.iter().all(u8::is_ascii_whitespace) {
                blank = Some(eol + 1);
            }
        }
        pos = eol + 1;
    }
    blank.or(line).unwrap_or_else(|| {
        bytes[half..end]
            .iter()
            .rposition(u8::is_ascii_whitespace)
            .map_or(end, |i| half + i + 1)
    })
}

/// Parses many documents in parallel; nulls give no segments.
pub fn parse_batch(docs: &[Option<&str>]) -> Vec<Parsed> {
    use rayon::prelude::*;
    crate::parallel::install(docs.len(), || {
        docs.par_iter()
            .map(|d| d.map(parse).unwrap_or_default())
            .collect()
    })
}

#[cfg(test)]
#[path = "markdown_tests.rs"]
mod tests;
