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

/// What a segment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Image,
}

/// One text block, or one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub kind: Kind,
    /// Plain text with the markup stripped (text), or the alt text (image).
    pub text: String,
    /// The image source as written (after resolving a reference); empty for text.
    pub src: String,
    /// Byte range of the segment's markdown in the input.
    pub span: Range<usize>,
}

/// The segments of one document and the number of dangling image links kept as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub segments: Vec<Segment>,
    pub dangling: usize,
}

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_MATH | Options::ENABLE_STRIKETHROUGH
}

/// Splits one markdown document into segments.
pub fn parse(md: &str) -> Parsed {
    let mut broken_images = 0usize;
    let callback = |link: BrokenLink<'_>| {
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
