//! 64-bit SimHash fingerprints (Charikar 2002, "Similarity estimation techniques from rounding
//! algorithms"): every shingle hashes to 64 bits (xxh3-64 of its UTF-8 bytes, as for MinHash);
//! bit `b` of the fingerprint is set when more shingle occurrences have bit `b` set than clear.
//! Near-duplicates are pairs within a small Hamming distance, found by [`crate::hamming`].

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use crate::text::Shingler;

/// Accumulates shingle hashes into a fingerprint.
#[derive(Clone, Debug)]
pub struct SimHasher {
    ones: [u32; 64],
    total: u32,
}

impl Default for SimHasher {
    fn default() -> Self {
        SimHasher {
            ones: [0; 64],
            total: 0,
        }
    }
}

impl SimHasher {
    #[inline]
    pub fn add(&mut self, h: u64) {
        for (bit, c) in self.ones.iter_mut().enumerate() {
            *c += ((h >> bit) & 1) as u32;
        }
        self.total += 1;
    }

    /// The fingerprint: bit `b` set when `2 · ones[b] > total`.
    pub fn finish(&self) -> u64 {
        let mut f = 0u64;
        for (bit, &c) in self.ones.iter().enumerate() {
            if 2 * (c as u64) > self.total as u64 {
                f |= 1 << bit;
            }
        }
        f
    }
}

/// The fingerprint of one text and its shingle count (0: empty, fingerprint 0).
pub fn fingerprint(shingler: &mut Shingler, text: &str) -> (u64, u32) {
    let mut acc = SimHasher::default();
    let n = shingler.for_each(text, |s| acc.add(xxh3_64(s)));
    (acc.finish(), n.min(u32::MAX as usize) as u32)
}

/// Fingerprints of many texts (nulls count as empty), parallel over texts.
pub fn fingerprints(texts: &[Option<&str>], shingler: &Shingler) -> (Vec<u64>, Vec<u32>) {
    crate::parallel::install(texts.len(), || {
        texts
            .par_iter()
            .with_min_len(16)
            .map_init(|| shingler.clone(), |s, t| fingerprint(s, t.unwrap_or("")))
            .unzip()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{NormalizeOptions, ShingleKind};

    fn fp(text: &str) -> u64 {
        let mut s = Shingler::new(ShingleKind::Word, 3, NormalizeOptions::default()).unwrap();
        fingerprint(&mut s, text).0
    }

    #[test]
    fn majority_vote_per_bit() {
        let mut h = SimHasher::default();
        for x in [0b1011u64, 0b0011, 0b1000] {
            h.add(x);
        }
        assert_eq!(h.finish(), 0b1011);
    }

    #[test]
    fn near_texts_have_near_fingerprints() {
        let base =
            "the quick brown fox jumps over the lazy dog and keeps running far away ".repeat(8);
        let edited = base.replacen("lazy", "sleepy", 1);
        let other =
            "completely different words appear in this unrelated sentence about cooking pasta "
                .repeat(8);
        let d_near = (fp(&base) ^ fp(&edited)).count_ones();
        let d_far = (fp(&base) ^ fp(&other)).count_ones();
        assert!(d_near <= 6, "{d_near}");
        assert!(d_far >= 16, "{d_far}");
    }
}
