//! Text preparation for near-duplicate detection: normalization, tokenization and shingling.

pub mod normalize;
pub mod script;
pub mod shingle;
pub mod tokenize;

pub use normalize::{normalize, NormalizeOptions};
pub use shingle::{ShingleKind, Shingler};
