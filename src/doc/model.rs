//! The segment model shared by the parser ([`markdown`](super::markdown)) and the state machine
//! behind it ([`builder`](super::builder)): what a document is split into.

use std::ops::Range;

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
