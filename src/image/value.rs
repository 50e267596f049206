//! What to compute and what comes back: hash specs, hash values and their string forms.

use super::pdq::Dihedral;
use crate::{Error, Result};

/// A hash function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashKind {
    /// ImageHash `average_hash`.
    AHash,
    /// ImageHash `dhash` (horizontal gradients).
    DHash,
    /// ImageHash `dhash_vertical`.
    DHashVertical,
    /// ImageHash `phash` (`highfreq_factor = 4`).
    PHash,
    /// ImageHash `phash_simple` (`highfreq_factor = 4`).
    PHashSimple,
    /// ImageHash `whash` (Haar, `remove_max_haar_ll = True`, default `image_scale`).
    WHash,
    /// PDQ, or one of its dihedral variants computed from the same DCT.
    Pdq(Dihedral),
}

/// One hash to compute: a kind and, for the ImageHash family, `hash_size` (bits = size²).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashSpec {
    pub kind: HashKind,
    /// Ignored by PDQ, whose size is fixed (16 × 16).
    pub hash_size: usize,
}

/// Largest accepted `hash_size`: a 4096-bit hash already exceeds any practical use.
const MAX_HASH_SIZE: usize = 64;

impl HashSpec {
    pub fn new(kind: HashKind, hash_size: usize) -> Self {
        Self { kind, hash_size }
    }

    /// PDQ of the image as is.
    pub fn pdq() -> Self {
        Self::new(HashKind::Pdq(Dihedral::Original), 16)
    }

    pub fn validate(&self) -> Result<()> {
        if matches!(self.kind, HashKind::Pdq(_)) {
            return Ok(());
        }
        let hs = self.hash_size;
        if !(2..=MAX_HASH_SIZE).contains(&hs) {
            return Err(Error::param(
                "hash_size",
                format!("must be between 2 and {MAX_HASH_SIZE}, got {hs}"),
            ));
        }
        if self.kind == HashKind::WHash && !hs.is_power_of_two() {
            return Err(Error::param(
                "hash_size",
                format!("wHash needs a power of two, got {hs}"),
            ));
        }
        Ok(())
    }
}

/// A computed hash: bits in ImageHash's row-major order (PDQ: bit `k = 16 i + j`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashValue {
    pub kind: HashKind,
    pub bits: Vec<bool>,
    /// PDQ's quality (0–100); `None` for the other hashes.
    pub quality: Option<u8>,
}

impl HashValue {
    /// Bits as they read in the hex string, most significant first.
    fn msb_first(&self) -> Box<dyn Iterator<Item = bool> + '_> {
        match self.kind {
            // PDQ prints 16-bit words from the last, bit k at position k & 15 of word k >> 4: the
            // 256-bit integer with bit k at position k.
            HashKind::Pdq(_) => Box::new(self.bits.iter().rev().copied()),
            _ => Box::new(self.bits.iter().copied()),
        }
    }

    /// The hash as its reference prints it: ImageHash's `str(hash)` (the bits as one big-endian
    /// integer, zero-padded to `ceil(n / 4)` digits) or PDQ's 64 hex digits.
    pub fn to_hex(&self) -> String {
        let n = self.bits.len();
        let digits = n.div_ceil(4);
        // Right-align: the leading digit holds the `n mod 4` high bits when n is not a multiple of 4.
        let pad = digits * 4 - n;
        let bits: Vec<bool> = std::iter::repeat_n(false, pad)
            .chain(self.msb_first())
            .collect();
        bits.chunks(4)
            .map(|c| {
                let v = c.iter().fold(0u32, |acc, &b| acc << 1 | u32::from(b));
                char::from_digit(v, 16).expect("a nibble is a hex digit")
            })
            .collect()
    }

    /// The same integer as [`to_hex`](Self::to_hex) in big-endian bytes (`ceil(n / 8)` of them).
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = self.bits.len();
        let pad = n.div_ceil(8) * 8 - n;
        let bits: Vec<bool> = std::iter::repeat_n(false, pad)
            .chain(self.msb_first())
            .collect();
        bits.chunks(8)
            .map(|c| c.iter().fold(0u8, |acc, &b| acc << 1 | u8::from(b)))
            .collect()
    }

    /// The hash as an integer when it has at most 64 bits (e.g. for the Hamming index).
    pub fn to_u64(&self) -> Option<u64> {
        (self.bits.len() <= 64).then(|| {
            self.msb_first()
                .fold(0u64, |acc, b| acc << 1 | u64::from(b))
        })
    }
}
