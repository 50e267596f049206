//! MinHash signatures (Broder 1997, "On the resemblance and containment of documents").
//!
//! A signature has `num_perm` slots; slot `i` is the minimum over a document's shingles of a
//! hash function `h_i`. Two documents agree on a slot with probability equal to the Jaccard
//! similarity of their shingle sets. Three schemes:
//!
//! * [`Scheme::Native`] (mmdedup's own, stable across versions and platforms): the shingle hash is
//!   `x = xxh3_64(shingle UTF-8 bytes, seed 0)`; the permutation parameters `a_i` (odd) and `b_i`
//!   are successive outputs of SplitMix64 seeded with `seed`, drawn `a_0, b_0, a_1, b_1, ...`
//!   (`a_i |= 1`); slot `i` is `((a_i · x + b_i) mod 2^64) >> 32`, a multiply-shift hash
//!   (Dietzfelbinger et al. 1997). Empty documents have every slot `2^32 − 1`.
//! * [`Scheme::DatasketchLegacy`] and [`Scheme::DatasketchAffine32`] reproduce datasketch 2.x bit
//!   for bit (see `datasketch.rs`); their parameters are drawn by NumPy in Python and passed in.

mod datasketch;
mod kernel;

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use crate::text::Shingler;
use crate::{Error, Result};

pub use datasketch::{affine32_token_hash, fmix32, legacy_token_hash, MERSENNE61};

/// Which hash family fills the slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Native,
    DatasketchLegacy,
    DatasketchAffine32,
}

/// Hash functions for one signature layout: a scheme and its per-slot parameters.
#[derive(Clone, Debug)]
pub struct MinHasher {
    scheme: Scheme,
    a: Vec<u64>,
    b: Vec<u64>,
}

/// SplitMix64 (Steele et al. 2014): a tiny, well-mixed generator with a fixed definition.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn check_num_perm(n: usize) -> Result<()> {
    if n == 0 || n > 8192 {
        return Err(Error::param(
            "num_perm",
            format!("must be in 1..=8192, got {n}"),
        ));
    }
    Ok(())
}

impl MinHasher {
    /// mmdedup's native scheme with `num_perm` slots drawn from `seed`.
    pub fn native(num_perm: usize, seed: u64) -> Result<Self> {
        check_num_perm(num_perm)?;
        let mut rng = SplitMix64::new(seed);
        let (mut a, mut b) = (Vec::with_capacity(num_perm), Vec::with_capacity(num_perm));
        for _ in 0..num_perm {
            a.push(rng.next() | 1);
            b.push(rng.next());
        }
        Ok(MinHasher {
            scheme: Scheme::Native,
            a,
            b,
        })
    }

    /// A datasketch scheme with parameters drawn by NumPy (`a`, `b` of equal length).
    pub fn datasketch(scheme: Scheme, a: Vec<u64>, b: Vec<u64>) -> Result<Self> {
        if scheme == Scheme::Native {
            return Err(Error::param(
                "scheme",
                "use MinHasher::native for the native scheme",
            ));
        }
        check_num_perm(a.len())?;
        if a.len() != b.len() {
            return Err(Error::param("b", "must have as many values as `a`"));
        }
        Ok(MinHasher { scheme, a, b })
    }

    pub fn num_perm(&self) -> usize {
        self.a.len()
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The per-shingle hash the scheme's permutations are applied to.
    #[inline]
    pub fn token_hash(&self, shingle: &[u8]) -> u64 {
        match self.scheme {
            Scheme::Native => xxh3_64(shingle),
            Scheme::DatasketchLegacy => legacy_token_hash(shingle),
            Scheme::DatasketchAffine32 => affine32_token_hash(shingle),
        }
    }

    /// Folds a block of token hashes into the running minima `acc` (one per slot). `acc` starts
    /// at `u64::MAX` and is turned into a signature by [`MinHasher::finish`].
    pub fn update(&self, acc: &mut [u64], hashes: &[u64]) {
        match self.scheme {
            Scheme::Native => kernel::update_native(acc, &self.a, &self.b, hashes),
            Scheme::DatasketchLegacy => kernel::update_legacy(acc, &self.a, &self.b, hashes),
            Scheme::DatasketchAffine32 => kernel::update_affine32(acc, &self.a, &self.b, hashes),
        }
    }

    /// Writes the signature for running minima `acc` into `out`.
    pub fn finish(&self, acc: &[u64], out: &mut [u32]) {
        for (o, &m) in out.iter_mut().zip(acc) {
            *o = match self.scheme {
                // An untouched slot (no shingle) is u64::MAX, so empty signatures are 2^32 − 1.
                Scheme::Native => (m >> 32) as u32,
                Scheme::DatasketchLegacy | Scheme::DatasketchAffine32 => {
                    m.min(u32::MAX as u64) as u32
                }
            };
        }
    }

    /// The signature of a set of shingles given as byte strings.
    pub fn signature_of<'a>(&self, shingles: impl IntoIterator<Item = &'a [u8]>) -> Vec<u32> {
        let hashes: Vec<u64> = shingles.into_iter().map(|s| self.token_hash(s)).collect();
        let mut acc = vec![u64::MAX; self.num_perm()];
        self.update(&mut acc, &hashes);
        let mut out = vec![0u32; self.num_perm()];
        self.finish(&acc, &mut out);
        out
    }
}

/// Token hashes are folded into the minima in blocks of this many, so a 100 MB document needs
/// no more memory than a short one.
const BLOCK: usize = 1024;

/// Running minima of one signature, fed token hashes in blocks.
struct Folder {
    hashes: Vec<u64>,
    acc: Vec<u64>,
}

impl Folder {
    fn new(k: usize) -> Self {
        Folder {
            hashes: Vec::with_capacity(BLOCK),
            acc: vec![u64::MAX; k],
        }
    }

    #[inline]
    fn push(&mut self, hasher: &MinHasher, token: &[u8]) {
        self.hashes.push(hasher.token_hash(token));
        if self.hashes.len() == BLOCK {
            hasher.update(&mut self.acc, &self.hashes);
            self.hashes.clear();
        }
    }

    /// Writes the signature into `sig` and resets for the next one.
    fn finish(&mut self, hasher: &MinHasher, sig: &mut [u32]) {
        hasher.update(&mut self.acc, &self.hashes);
        hasher.finish(&self.acc, sig);
        self.hashes.clear();
        self.acc.fill(u64::MAX);
    }
}

/// Fills `out` with one signature per item, in parallel over items: `feed` pushes an item's
/// shingles into the folder (with per-thread scratch `S`) and returns how many it pushed.
fn fill<T: Sync, S>(
    items: &[T],
    hasher: &MinHasher,
    out: &mut [u32],
    scratch: impl Fn() -> S + Sync + Send,
    feed: impl Fn(&mut S, &T, &mut Folder) -> usize + Sync + Send,
) -> Vec<u32> {
    let k = hasher.num_perm();
    assert_eq!(
        out.len(),
        items.len() * k,
        "output must hold one signature per item"
    );
    let mut counts = vec![0u32; items.len()];
    crate::parallel::install(items.len(), || {
        out.par_chunks_mut(k)
            .zip(counts.par_iter_mut())
            .zip(items.par_iter())
            .with_min_len(16)
            .for_each_init(
                || (scratch(), Folder::new(k)),
                |(s, f), ((sig, count), item)| {
                    let n = feed(s, item, f);
                    f.finish(hasher, sig);
                    *count = n.min(u32::MAX as usize) as u32;
                },
            );
    });
    counts
}

/// Signatures of many texts, row-major into `out` (`texts.len() · num_perm` slots). Returns the
/// number of shingles of each text (0 for null or empty texts). Parallel over texts; the output
/// does not depend on the thread count.
pub fn signatures(
    texts: &[Option<&str>],
    shingler: &Shingler,
    hasher: &MinHasher,
    out: &mut [u32],
) -> Vec<u32> {
    fill(
        texts,
        hasher,
        out,
        || shingler.clone(),
        |sh, text, f| sh.for_each(text.unwrap_or(""), |t| f.push(hasher, t)),
    )
}

/// Signatures of ready-made token sets (each token one shingle, as datasketch's `update` takes
/// them); `None` rows are empty. Same layout and result as [`signatures`].
pub fn set_signatures(
    sets: &[Option<Vec<&[u8]>>],
    hasher: &MinHasher,
    out: &mut [u32],
) -> Vec<u32> {
    fill(
        sets,
        hasher,
        out,
        || (),
        |_, set, f| {
            let tokens = set.as_deref().unwrap_or(&[]);
            for t in tokens {
                f.push(hasher, t);
            }
            tokens.len()
        },
    )
}

#[cfg(test)]
mod tests;
