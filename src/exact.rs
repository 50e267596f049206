//! Exact duplicates: a 128-bit hash (xxh3-128) of the normalized text. With 2^128 values, a
//! collision among 10^12 documents has probability about 10^-15.

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_128;

use crate::text::{normalize::normalize_into, NormalizeOptions};

/// The hash of each text after normalization and whether it is empty (null, or nothing left
/// after normalization). Empty texts hash to 0.
pub fn hashes(texts: &[Option<&str>], opts: NormalizeOptions) -> (Vec<u128>, Vec<bool>) {
    crate::parallel::install(texts.len(), || {
        texts
            .par_iter()
            .with_min_len(64)
            .map_init(String::new, |buf, t| {
                normalize_into(t.unwrap_or(""), opts, buf);
                if buf.is_empty() {
                    (0, true)
                } else {
                    (xxh3_128(buf.as_bytes()), false)
                }
            })
            .unzip()
    })
}

/// Edges joining every text to the first text with the same hash (empty texts excluded).
pub fn duplicate_edges(hashes: &[u128], empty: &[bool]) -> Vec<(u32, u32)> {
    let mut order: Vec<(u128, u32)> = hashes
        .iter()
        .zip(empty)
        .enumerate()
        .filter(|(_, (_, &e))| !e)
        .map(|(i, (&h, _))| (h, i as u32))
        .collect();
    order.par_sort_unstable();
    let mut edges = Vec::new();
    for run in order.chunk_by(|a, b| a.0 == b.0) {
        edges.extend(run[1..].iter().map(|&(_, i)| (run[0].1, i)));
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_after_normalization() {
        let texts = [
            Some("Hello, World!"),
            Some("hello world"),
            None,
            Some(""),
            Some("other"),
            Some("  "),
        ];
        let (h, empty) = hashes(&texts, NormalizeOptions::default());
        assert_eq!(empty, [false, false, true, true, false, true]);
        assert_eq!(h[0], h[1]);
        assert_ne!(h[0], h[4]);
        assert_eq!(duplicate_edges(&h, &empty), vec![(0, 1)]);
    }
}
