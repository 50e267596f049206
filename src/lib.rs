//! mmdedup's kernels: text normalization and shingling, markdown documents, MinHash, LSH,
//! SimHash, exact hashing and clustering. Everything here is plain Rust; the Python bindings live
//! in `py` behind the `python` feature so the algorithms can be tested and benchmarked without an
//! interpreter.

pub mod cluster;
pub mod doc;
pub mod error;
pub mod exact;
pub mod hamming;
pub mod image;
pub mod lsh;
pub mod minhash;
pub mod parallel;
pub mod sets;
pub mod simhash;
pub mod text;
pub mod tokenize;

#[cfg(feature = "python")]
mod py;

#[cfg(test)]
mod fuzz_regressions;

// Image hashing allocates and frees full-resolution planes per image; glibc returns such blocks
// to the kernel on free, so every image paid fresh page faults (about half the time per photo).
// mimalloc keeps them for reuse. Only the extension uses it: the kernels' tests keep the system
// allocator.
#[cfg(feature = "python")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use error::{Error, Result};
