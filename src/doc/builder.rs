//! The state machine behind [`parse`](super::parse): pulldown-cmark events with their source
//! ranges in, segments out. A text segment is open from the first text of a block to the end of
//! the block or the next image; a block that opens before its text lends the segment its start,
//! so a heading's `#` or a list item's marker is part of the segment's source.

use std::ops::Range;

use pulldown_cmark::{Event, Tag, TagEnd};

use super::html::img_tag;
use super::model::{Kind, Parsed, Segment};

/// An image being read: its source, its alt text so far, its span.
struct OpenImage {
    src: String,
    alt: String,
    span: Range<usize>,
    dangling: bool,
}

pub(super) struct Builder<'a> {
    md: &'a str,
    pub(super) out: Parsed,
    /// The open text segment: plain text and span.
    text: Option<(String, Range<usize>)>,
    /// Where the next text segment starts when a block opened before any of its text.
    block_start: Option<usize>,
    image: Option<OpenImage>,
    /// Inside a table: cells and rows are separated, the table flushes as one segment.
    table_depth: usize,
}

impl<'a> Builder<'a> {
    pub(super) fn new(md: &'a str) -> Self {
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

    pub(super) fn flush(&mut self) {
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

    pub(super) fn event(&mut self, event: Event<'_>, range: Range<usize>) {
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
