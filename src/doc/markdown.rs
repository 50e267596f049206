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

use pulldown_cmark::{BrokenLink, Event, Options, Parser, Tag, TagEnd};

use super::html::img_tag;

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

/// An image being read: its source, its alt text so far, its span.
struct OpenImage {
    src: String,
    alt: String,
    span: Range<usize>,
    dangling: bool,
}

struct Builder<'a> {
    md: &'a str,
    out: Parsed,
    /// The open text segment: plain text and span.
    text: Option<(String, Range<usize>)>,
    /// Where the next text segment starts when a block opened before any of its text.
    block_start: Option<usize>,
    image: Option<OpenImage>,
    /// Inside a table: cells and rows are separated, the table flushes as one segment.
    table_depth: usize,
}

impl<'a> Builder<'a> {
    fn new(md: &'a str) -> Self {
        Builder {
            md,
            out: Parsed::default(),
            text: None,
            block_start: None,
            image: None,
            table_depth: 0,
        }
    }

    fn push_text(&mut self, s: &str, range: Range<usize>) {
        if let Some(img) = &mut self.image {
            img.alt.push_str(s);
            return;
        }
        match &mut self.text {
            Some((buf, span)) => {
                buf.push_str(s);
                span.end = span.end.max(range.end);
            }
            None => {
                let start = self
                    .block_start
                    .take()
                    .unwrap_or(range.start)
                    .min(range.start);
                self.text = Some((s.to_owned(), start..range.end));
            }
        }
    }

    /// Extends the open text segment to `end` without adding text (markup around text).
    fn extend(&mut self, end: usize) {
        if let Some((_, span)) = &mut self.text {
            span.end = span.end.max(end);
        }
    }

    fn flush(&mut self) {
        self.block_start = None;
        let Some((text, span)) = self.text.take() else {
            return;
        };
        // Trailing blank lines belong to the gap, not to the block.
        let end = span.start + self.md[span.clone()].trim_end().len();
        if text.trim().is_empty() && end == span.start {
            return;
        }
        self.out.segments.push(Segment {
            kind: Kind::Text,
            text: text.trim().to_owned(),
            src: String::new(),
            span: span.start..end,
        });
    }

    /// Ends the text before an image at `at` and records the image.
    fn image(&mut self, src: String, alt: String, span: Range<usize>) {
        if let Some((_, t)) = &mut self.text {
            t.end = t.end.min(span.start);
        }
        self.flush();
        self.out.segments.push(Segment {
            kind: Kind::Image,
            text: alt,
            src,
            span,
        });
    }

    fn event(&mut self, event: Event<'_>, range: Range<usize>) {
        match event {
            Event::Start(Tag::Image { dest_url, .. }) => {
                self.image = Some(OpenImage {
                    dangling: dest_url.trim().is_empty(),
                    src: dest_url.into_string(),
                    alt: String::new(),
                    span: range,
                });
            }
            Event::End(TagEnd::Image) => {
                let Some(img) = self.image.take() else {
                    return;
                };
                if img.dangling {
                    // Repair: no src, so no image; its alt stays as text.
                    self.out.dangling += 1;
                    let span = img.span.clone();
                    self.push_text(&img.alt, span.clone());
                    self.extend(span.end);
                } else {
                    self.image(img.src, img.alt, img.span);
                }
            }
            Event::Start(Tag::Table(_)) => {
                self.table_depth += 1;
                self.open_block(range.start);
            }
            Event::End(TagEnd::Table) => {
                self.table_depth = self.table_depth.saturating_sub(1);
                self.extend(range.end);
                self.flush();
            }
            Event::End(TagEnd::TableCell) => self.push_sep(" | ", range.end),
            Event::End(TagEnd::TableRow | TagEnd::TableHead) => self.push_sep("\n", range.end),
            Event::Start(
                Tag::Paragraph
                | Tag::Heading { .. }
                | Tag::CodeBlock(_)
                | Tag::HtmlBlock
                | Tag::Item
                | Tag::List(_)
                | Tag::BlockQuote(_)
                | Tag::FootnoteDefinition(_),
            ) => self.open_block(range.start),
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::CodeBlock
                | TagEnd::HtmlBlock
                | TagEnd::Item
                | TagEnd::List(_)
                | TagEnd::BlockQuote(_)
                | TagEnd::FootnoteDefinition,
            ) if self.table_depth == 0 => {
                self.extend(range.end);
                self.flush();
            }
            Event::Text(s) | Event::Code(s) | Event::InlineMath(s) | Event::DisplayMath(s) => {
                self.push_text(&s, range.clone());
                self.extend(range.end);
            }
            Event::SoftBreak => self.push_text(" ", range),
            Event::HardBreak => self.push_text("\n", range),
            Event::Html(s) | Event::InlineHtml(s) => self.html(&s, range),
            _ => self.extend(range.end),
        }
    }

    /// A block starts: text still open (a list item before its nested list) ends here.
    fn open_block(&mut self, start: usize) {
        if self.text.is_some() {
            self.flush();
        }
        if self.block_start.is_none() {
            self.block_start = Some(start);
        }
    }

    fn push_sep(&mut self, sep: &str, end: usize) {
        if let Some((buf, _)) = &mut self.text {
            if !buf.is_empty() && !buf.ends_with('\n') {
                buf.push_str(sep);
            }
        }
        self.extend(end);
    }

    /// HTML: `<img>` tags are images, other tags are markup, what lies between them is text.
    fn html(&mut self, html: &str, range: Range<usize>) {
        if self.image.is_some() {
            return;
        }
        // The event text is usually the source slice; inside containers (quotes, lists) it is
        // not, and every piece then gets the whole event's span.
        let exact = self.md.get(range.clone()) == Some(html);
        let at = |a: usize, b: usize| {
            if exact {
                range.start + a..range.start + b
            } else {
                range.clone()
            }
        };
        let mut pos = 0;
        while pos < html.len() {
            let Some(lt) = html[pos..].find('<').map(|i| pos + i) else {
                self.html_text(&html[pos..], at(pos, html.len()));
                break;
            };
            if lt > pos {
                self.html_text(&html[pos..lt], at(pos, lt));
            }
            let gt = html[lt..].find('>').map_or(html.len(), |i| lt + i + 1);
            let tag = &html[lt..gt];
            match img_tag(tag) {
                Some((src, alt)) if !src.is_empty() => {
                    self.image(src, alt, at(lt, gt));
                }
                _ => {
                    let span = at(lt, gt);
                    if self.text.is_none() && self.block_start.is_none() {
                        self.block_start = Some(span.start);
                    }
                    self.extend(span.end);
                }
            }
            pos = gt;
        }
    }

    fn html_text(&mut self, s: &str, range: Range<usize>) {
        if s.trim().is_empty() {
            self.extend(range.end);
        } else {
            self.push_text(s, range);
        }
    }
}

#[cfg(test)]
#[path = "markdown_tests.rs"]
mod tests;
