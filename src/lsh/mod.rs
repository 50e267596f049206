//! Locality-sensitive hashing over MinHash signatures (Indyk & Motwani 1998; the banding of
//! Leskovec, Rajaraman & Ullman, "Mining of Massive Datasets", ch. 3).
//!
//! A signature of `b · r` slots is cut into `b` bands of `r` consecutive slots; two documents
//! become a candidate pair when all `r` slots of some band agree, which happens with probability
//! `1 − (1 − s^r)^b` for Jaccard similarity `s`.

mod params;
pub mod rows;

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64_with_seed;

pub use params::{false_negative_area, false_positive_area, optimal_params, recall_params};

use crate::{Error, Result};

/// Band geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bands {
    pub bands: usize,
    pub rows: usize,
}

impl Bands {
    pub fn new(bands: usize, rows: usize, num_perm: usize) -> Result<Self> {
        if bands == 0 || rows == 0 {
            return Err(Error::param("bands", "bands and rows must be at least 1"));
        }
        if bands * rows > num_perm {
            return Err(Error::param(
                "bands",
                format!(
                    "bands × rows = {} exceeds num_perm = {num_perm}",
                    bands * rows
                ),
            ));
        }
        Ok(Bands { bands, rows })
    }

    /// P(candidate | Jaccard = s).
    pub fn probability(&self, s: f64) -> f64 {
        1.0 - (1.0 - s.powi(self.rows as i32)).powi(self.bands as i32)
    }
}

/// The key of band `band` of one signature: xxh3-64 of its `r` slots as little-endian u32,
/// seeded by the band index so equal slot values in different bands never collide.
#[inline]
pub fn band_key(sig: &[u32], geometry: Bands, band: usize) -> u64 {
    let slots = &sig[band * geometry.rows..(band + 1) * geometry.rows];
    let mut buf = [0u8; 4 * 64];
    if slots.len() <= 64 {
        for (chunk, v) in buf.chunks_exact_mut(4).zip(slots) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        xxh3_64_with_seed(&buf[..4 * slots.len()], band as u64)
    } else {
        let bytes: Vec<u8> = slots.iter().flat_map(|v| v.to_le_bytes()).collect();
        xxh3_64_with_seed(&bytes, band as u64)
    }
}

/// Candidate pairs `(i, j)`, `i < j`, sorted and unique, from documents sharing a band.
///
/// Inside each bucket (documents in increasing order) every member is paired with up to `window`
/// members before it. `window = 1` links each member to its predecessor, which connects the
/// bucket with the fewest edges (enough when every candidate is accepted); a larger window gives
/// pair verification more chances to link a member whose nearest predecessor is not similar.
/// Documents with `skip[i]` (empty or null) take part in no pair.
pub fn candidate_pairs(
    sigs: &[u32],
    num_perm: usize,
    geometry: Bands,
    skip: &[bool],
    window: usize,
) -> Vec<(u32, u32)> {
    let n = skip.len();
    assert_eq!(sigs.len(), n * num_perm);
    let window = window.max(1);
    let docs: Vec<u32> = (0..n as u32).filter(|&i| !skip[i as usize]).collect();
    let per_band: Vec<Vec<(u32, u32)>> = crate::parallel::install(n, || {
        (0..geometry.bands)
            .into_par_iter()
            .map(|band| {
                let keyed: Vec<(u64, u32)> = docs
                    .iter()
                    .map(|&d| {
                        let sig = &sigs[d as usize * num_perm..(d as usize + 1) * num_perm];
                        (band_key(sig, geometry, band), d)
                    })
                    .collect();
                bucket_pairs(keyed, window)
            })
            .collect()
    });
    let mut pairs: Vec<(u32, u32)> = per_band.into_iter().flatten().collect();
    pairs.par_sort_unstable();
    pairs.dedup();
    pairs
}

/// Pairs from documents with equal keys: sorts `(key, doc)` and, inside each run of equal keys,
/// pairs every member with up to `window` members before it (see [`candidate_pairs`]). Used per
/// band in memory, and per on-disk partition (keys of all bands mixed: the band seed keeps them
/// apart) by the staged engine; both give the same pairs.
pub fn bucket_pairs(mut keyed: Vec<(u64, u32)>, window: usize) -> Vec<(u32, u32)> {
    let window = window.max(1);
    // Whole (key, doc) tuples: equal elements are identical, so the order is the same however
    // the sort is split over threads.
    crate::parallel::install(keyed.len(), || keyed.par_sort_unstable());
    // Pieces of whole runs, whose pairs the threads emit side by side and which are joined in
    // order: the same pairs in the same order as one pass.
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < keyed.len() {
        let mut end = (start + PIECE).min(keyed.len());
        while end < keyed.len() && keyed[end].0 == keyed[end - 1].0 {
            end += 1;
        }
        pieces.push(&keyed[start..end]);
        start = end;
    }
    let emit = |piece: &&[(u64, u32)]| {
        let mut pairs = Vec::new();
        for run in piece.chunk_by(|x, y| x.0 == y.0) {
            for (i, &(_, d)) in run.iter().enumerate().skip(1) {
                for &(_, p) in &run[i.saturating_sub(window)..i] {
                    pairs.push((p, d));
                }
            }
        }
        pairs
    };
    let parts: Vec<Vec<(u32, u32)>> =
        crate::parallel::install(keyed.len(), || pieces.par_iter().map(emit).collect());
    parts.concat()
}

/// Sorted `(key, doc)` entries per piece of [`bucket_pairs`]'s parallel pass.
const PIECE: usize = 1 << 16;

/// Band keys of `n` signatures, row-major `(n, bands)`.
pub fn band_keys(sigs: &[u32], num_perm: usize, geometry: Bands) -> Vec<u64> {
    let n = sigs.len() / num_perm;
    let mut out = vec![0u64; n * geometry.bands];
    crate::parallel::install(n, || {
        out.par_chunks_mut(geometry.bands)
            .zip(sigs.par_chunks(num_perm))
            .with_min_len(256)
            .for_each(|(keys, sig)| {
                for (band, k) in keys.iter_mut().enumerate() {
                    *k = band_key(sig, geometry, band);
                }
            });
    });
    out
}

/// The fraction of slots on which two signatures agree: the MinHash Jaccard estimate.
#[inline]
pub fn agreement(a: &[u32], b: &[u32]) -> f64 {
    let eq = a.iter().zip(b).filter(|(x, y)| x == y).count();
    eq as f64 / a.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_come_from_shared_bands() {
        // Four documents, 4 slots, 2 bands of 2 rows.
        #[rustfmt::skip]
        let sigs = [
            1, 2, 3, 4,
            1, 2, 9, 9,   // shares band 0 with doc 0
            7, 7, 3, 4,   // shares band 1 with doc 0
            5, 6, 7, 8,   // shares nothing
        ];
        let g = Bands::new(2, 2, 4).unwrap();
        let pairs = candidate_pairs(&sigs, 4, g, &[false; 4], 1);
        assert_eq!(pairs, vec![(0, 1), (0, 2)]);
        let pairs = candidate_pairs(&sigs, 4, g, &[true, false, false, false], 1);
        assert!(pairs.is_empty());
    }

    #[test]
    fn bucket_pairs_in_pieces_equal_one_pass() {
        // Several pieces' worth of entries, with runs of equal keys (some longer than the
        // window, some across a piece's nominal end): the same pairs, in the same order, as
        // one sequential pass over the sorted entries.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let keyed: Vec<(u64, u32)> = (0..3 * PIECE as u32 + 777)
            .map(|d| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                ((state >> 33) % 40_000, d)
            })
            .collect();
        for window in [1, 3, 50] {
            let mut sorted = keyed.clone();
            sorted.sort_unstable();
            let mut want = Vec::new();
            for run in sorted.chunk_by(|x, y| x.0 == y.0) {
                for i in 1..run.len() {
                    for j in i.saturating_sub(window)..i {
                        want.push((run[j].1, run[i].1));
                    }
                }
            }
            assert_eq!(bucket_pairs(keyed.clone(), window), want, "window {window}");
        }
    }

    #[test]
    fn window_bounds_pairs_per_member() {
        let sigs = vec![1u32; 10 * 4];
        let g = Bands::new(1, 4, 4).unwrap();
        assert_eq!(candidate_pairs(&sigs, 4, g, &[false; 10], 1).len(), 9);
        assert_eq!(
            candidate_pairs(&sigs, 4, g, &[false; 10], 3).len(),
            9 + 8 + 7
        );
        assert_eq!(candidate_pairs(&sigs, 4, g, &[false; 10], 100).len(), 45);
    }

    #[test]
    fn rejects_bad_geometry() {
        assert!(Bands::new(0, 3, 8).is_err());
        assert!(Bands::new(3, 3, 8).is_err());
        assert!(Bands::new(2, 4, 8).is_ok());
    }
}
