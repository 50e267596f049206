//! Interleaved documents: the markdown that PIN-14M and WanJuan store, split into the ordered
//! text and image segments the rest of mmdedup works on.

mod builder;
mod html;
pub mod markdown;

pub use markdown::{parse, parse_batch, Kind, Parsed, Segment};
