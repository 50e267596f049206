//! Interleaved documents: the markdown that PIN-14M and WanJuan store, split into the ordered
//! text and image segments the rest of mmdedup works on.

mod builder;
mod html;
pub mod markdown;
mod model;

pub use markdown::{parse, parse_batch};
pub use model::{Kind, Parsed, Segment};
