//! MinHash signatures (Broder 1997, "On the resemblance and containment of documents").
//!
//! A signature has `num_perm` slots; slot `i` is the minimum over a document's shingles of a
//! hash function `h_i`. Two documents agree on a slot with probability (close to) the Jaccard
//! similarity of their shingle sets. Three schemes:
//!
//! * [`Scheme::Native`] (mmdedup's own, stable across versions and platforms; version 2): the
//!   shingle hash is `x = xxh3_64(shingle UTF-8 bytes, seed 0) mod 2^32` (its low 32 bits); the
//!   permutation parameters are successive outputs `s_0, s_1, ...` of SplitMix64 seeded with
//!   `seed`: `a_i = (s_{2i} mod 2^32) | 1` (odd) and `b_i = s_{2i+1} mod 2^32`; slot `i` is the
//!   minimum of `(a_i · x + b_i) mod 2^32`. This is the affine family of datasketch 2.x's default
//!   scheme (on another shingle hash): one 32-bit multiply, add and unsigned minimum per slot,
//!   eight slots per AVX2 instruction. With `a_i` odd each slot is a bijection of the 32-bit
//!   hashes, so two documents agree on a slot only when they share its minimizing shingle (or,
//!   with probability 2^-32, two shingles' hashes collide). Empty documents have every slot
//!   `2^32 − 1`. (Version 1, mmdedup 0.1 before this change, computed
//!   `((a · xxh3_64 + b) mod 2^64) >> 32` with 64-bit `a`, `b`; its signatures are not
//!   comparable with version 2's.)
//! * [`Scheme::DatasketchLegacy`] and [`Scheme::DatasketchAffine32`] reproduce datasketch 2.x bit
//!   for bit (see `datasketch.rs`); their parameters are drawn by NumPy in Python and passed in.

mod datasketch;
mod kernel;

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use crate::text::Shingler;
use crate::{Error, Result};

pub use datasketch::{affine32_token_hash, fmix32, legacy_token_hash, MERSENNE61};

/// Version of the native scheme's definition; stored with signatures written to disk so that
/// signatures of another version are refused rather than silently compared.
pub const NATIVE_SCHEME_VERSION: u32 = 2;

/// Which hash family fills the slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Native,
    DatasketchLegacy,
    DatasketchAffine32,
}

/// Per-slot parameters: 32-bit for the affine schemes, 64-bit for datasketch's legacy one.
#[derive(Clone, Debug)]
enum Params {
    Affine32 { a: Vec<u32>, b: Vec<u32> },
    Legacy { a: Vec<u64>, b: Vec<u64> },
}

/// Hash functions for one signature layout: a scheme and its per-slot parameters.
#[derive(Clone, Debug)]
pub struct MinHasher {
    scheme: Scheme,
    params: Params,
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

/// The native scheme's shingle hash: the low 32 bits of xxh3-64.
#[inline]
pub fn native_token_hash(shingle: &[u8]) -> u32 {
    xxh3_64(shingle) as u32
}

impl MinHasher {
    /// mmdedup's native scheme with `num_perm` slots drawn from `seed`.
    pub fn native(num_perm: usize, seed: u64) -> Result<Self> {
        check_num_perm(num_perm)?;
        let mut rng = SplitMix64::new(seed);
        let (mut a, mut b) = (Vec::with_capacity(num_perm), Vec::with_capacity(num_perm));
        for _ in 0..num_perm {
            a.push(rng.next() as u32 | 1);
            b.push(rng.next() as u32);
        }
        Ok(MinHasher {
            scheme: Scheme::Native,
            params: Params::Affine32 { a, b },
        })
    }

    /// A datasketch scheme with parameters drawn by NumPy (`a`, `b` of equal length; for
    /// affine32 they are below 2^32).
    pub fn datasketch(scheme: Scheme, a: Vec<u64>, b: Vec<u64>) -> Result<Self> {
        check_num_perm(a.len())?;
        if a.len() != b.len() {
            return Err(Error::param("b", "must have as many values as `a`"));
        }
        let params = match scheme {
            Scheme::Native => {
                return Err(Error::param(
                    "scheme",
                    "use MinHasher::native for the native scheme",
                ))
            }
            Scheme::DatasketchLegacy => Params::Legacy { a, b },
            Scheme::DatasketchAffine32 => {
                if a.iter().chain(&b).any(|&v| v > u32::MAX as u64) {
                    return Err(Error::param("a", "affine32 parameters must be below 2^32"));
                }
                Params::Affine32 {
                    a: a.iter().map(|&v| v as u32).collect(),
                    b: b.iter().map(|&v| v as u32).collect(),
                }
            }
        };
        Ok(MinHasher { scheme, params })
    }

    pub fn num_perm(&self) -> usize {
        match &self.params {
            Params::Affine32 { a, .. } => a.len(),
            Params::Legacy { a, .. } => a.len(),
        }
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The per-shingle hash the scheme's permutations are applied to.
    #[inline]
    pub fn token_hash(&self, shingle: &[u8]) -> u32 {
        match self.scheme {
            Scheme::Native => native_token_hash(shingle),
            Scheme::DatasketchLegacy => legacy_token_hash(shingle),
            Scheme::DatasketchAffine32 => affine32_token_hash(shingle),
        }
    }

    /// Folds a block of token hashes into the running minima `sig` (one per slot), which start
    /// at `u32::MAX` (the value of a slot no shingle reached, in every scheme) and end as the
    /// signature.
    pub fn update(&self, sig: &mut [u32], hashes: &[u32]) {
        match &self.params {
            Params::Affine32 { a, b } => kernel::update_affine32(sig, a, b, hashes),
            Params::Legacy { a, b } => kernel::update_legacy(sig, a, b, hashes),
        }
    }

    /// The signature of a set of shingles given as byte strings.
    pub fn signature_of<'a>(&self, shingles: impl IntoIterator<Item = &'a [u8]>) -> Vec<u32> {
        let hashes: Vec<u32> = shingles.into_iter().map(|s| self.token_hash(s)).collect();
        let mut sig = vec![u32::MAX; self.num_perm()];
        self.update(&mut sig, &hashes);
        sig
    }
}

/// Token hashes are folded into the minima in blocks of this many, so a 100 MB document needs
/// no more memory than a short one.
const BLOCK: usize = 1024;

/// Feeds one signature: hashes shingles (with `hash`, the scheme's token hash, resolved once
/// per call rather than per shingle) into a block, folded into the minima when full.
pub struct Folder<'a, H> {
    hash: H,
    hasher: &'a MinHasher,
    hashes: &'a mut Vec<u32>,
    sig: &'a mut [u32],
}

impl<H: Fn(&[u8]) -> u32> Folder<'_, H> {
    /// Adds one shingle.
    #[inline(always)]
    pub fn push(&mut self, shingle: &[u8]) {
        self.hashes.push((self.hash)(shingle));
        if self.hashes.len() == BLOCK {
            self.hasher.update(self.sig, self.hashes);
            self.hashes.clear();
        }
    }

    fn finish(self) {
        self.hasher.update(self.sig, self.hashes);
        self.hashes.clear();
    }
}

/// Calls `$go` (a generic function's name) with the trailing arguments and the scheme's token
/// hash function, so that the per-shingle loop is compiled once per scheme.
macro_rules! with_token_hash {
    ($hasher:expr, $go:ident($($arg:expr),*)) => {
        match $hasher.scheme() {
            Scheme::Native => $go($($arg,)* native_token_hash),
            Scheme::DatasketchLegacy => $go($($arg,)* legacy_token_hash),
            Scheme::DatasketchAffine32 => $go($($arg,)* affine32_token_hash),
        }
    };
}

/// Fills `out` with one signature per item `0..n`, in parallel over items: `feed` pushes item
/// `i`'s shingles into the folder (with per-thread scratch `S`) and returns how many it pushed.
fn fill<S, H: Fn(&[u8]) -> u32 + Copy + Sync + Send>(
    n: usize,
    hasher: &MinHasher,
    hash: H,
    out: &mut [u32],
    scratch: impl Fn() -> S + Sync + Send,
    feed: impl Fn(&mut S, usize, &mut Folder<'_, H>) -> usize + Sync + Send,
) -> Vec<u32> {
    let k = hasher.num_perm();
    assert_eq!(out.len(), n * k, "output must hold one signature per item");
    let mut counts = vec![0u32; n];
    crate::parallel::install(n, || {
        out.par_chunks_mut(k)
            .zip(counts.par_iter_mut())
            .enumerate()
            .with_min_len(16)
            .for_each_init(
                || (scratch(), Vec::with_capacity(BLOCK)),
                |(s, hashes), (i, (sig, count))| {
                    // Each worker initializes its own rows (first touch of fresh pages too).
                    sig.fill(u32::MAX);
                    let mut f = Folder {
                        hash,
                        hasher,
                        hashes,
                        sig,
                    };
                    let pushed = feed(s, i, &mut f);
                    f.finish();
                    *count = pushed.min(u32::MAX as usize) as u32;
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
    fn go<H: Fn(&[u8]) -> u32 + Copy + Sync + Send>(
        texts: &[Option<&str>],
        shingler: &Shingler,
        hasher: &MinHasher,
        out: &mut [u32],
        hash: H,
    ) -> Vec<u32> {
        fill(
            texts.len(),
            hasher,
            hash,
            out,
            || shingler.clone(),
            |sh, i, f| sh.for_each(texts[i].unwrap_or(""), |t| f.push(t)),
        )
    }
    with_token_hash!(hasher, go(texts, shingler, hasher, out))
}

/// Signatures as [`signatures`] gives them, and each text's shingle set (sorted, distinct
/// xxh3-64 hashes, as [`crate::sets::shingle_sets`] gives them) from the same shingling pass.
/// With the native scheme the token hash is the set hash's low 32 bits, so the set costs one
/// push per shingle and a sort per text. Returns the shingle counts and the sets.
pub fn signatures_and_sets(
    texts: &[Option<&str>],
    shingler: &Shingler,
    hasher: &MinHasher,
    out: &mut [u32],
) -> (Vec<u32>, Vec<Vec<u64>>) {
    let (n, k) = (texts.len(), hasher.num_perm());
    assert_eq!(out.len(), n * k, "output must hold one signature per text");
    let native = hasher.scheme() == Scheme::Native;
    let mut counts = vec![0u32; n];
    let mut sets: Vec<Vec<u64>> = vec![Vec::new(); n];
    crate::parallel::install(n, || {
        out.par_chunks_mut(k)
            .zip(counts.par_iter_mut())
            .zip(sets.par_iter_mut())
            .enumerate()
            .with_min_len(16)
            .with_max_len(crate::parallel::leaf_len(n, 16))
            .for_each_init(
                || (shingler.clone(), Vec::with_capacity(BLOCK)),
                |(sh, hashes), (i, ((sig, count), set))| {
                    sig.fill(u32::MAX);
                    let pushed = sh.for_each(texts[i].unwrap_or(""), |t| {
                        let h = xxh3_64(t);
                        set.push(h);
                        hashes.push(if native {
                            h as u32
                        } else {
                            hasher.token_hash(t)
                        });
                        if hashes.len() == BLOCK {
                            hasher.update(sig, hashes);
                            hashes.clear();
                        }
                    });
                    hasher.update(sig, hashes);
                    hashes.clear();
                    crate::sets::finish_set(set);
                    *count = pushed.min(u32::MAX as usize) as u32;
                },
            );
    });
    (counts, sets)
}

/// Rows of ready-made tokens, read in place (an Arrow list column, or vectors in tests).
pub trait TokenSets: Sync {
    /// Number of rows.
    fn rows(&self) -> usize;
    /// Calls `f` with each token of row `row` (none for a null row); returns how many.
    fn for_each_token(&self, row: usize, f: impl FnMut(&[u8])) -> usize;
}

impl TokenSets for [Option<Vec<&[u8]>>] {
    fn rows(&self) -> usize {
        self.len()
    }
    fn for_each_token(&self, row: usize, f: impl FnMut(&[u8])) -> usize {
        let tokens = self[row].as_deref().unwrap_or(&[]);
        tokens.iter().copied().for_each(f);
        tokens.len()
    }
}

/// Signatures of ready-made token sets (each token one shingle, as datasketch's `update` takes
/// them); null rows are empty. Same layout and result as [`signatures`].
pub fn set_signatures<T: TokenSets + ?Sized>(
    sets: &T,
    hasher: &MinHasher,
    out: &mut [u32],
) -> Vec<u32> {
    fn go<T: TokenSets + ?Sized, H: Fn(&[u8]) -> u32 + Copy + Sync + Send>(
        sets: &T,
        hasher: &MinHasher,
        out: &mut [u32],
        hash: H,
    ) -> Vec<u32> {
        fill(
            sets.rows(),
            hasher,
            hash,
            out,
            || (),
            |_, i, f| sets.for_each_token(i, |t| f.push(t)),
        )
    }
    with_token_hash!(hasher, go(sets, hasher, out))
}

#[cfg(test)]
mod tests;
