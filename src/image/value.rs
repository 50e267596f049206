//! What to compute and what comes back: hash specs, hash values and their string forms.

use std::fmt;
use std::str::FromStr;

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

/// The names the bindings take: `ahash`, `dhash`, `dhash_vertical`, `phash`, `phash_simple`,
/// `whash`, `pdq` and `pdq_<variant>` for the dihedral variants (`pdq_rotate90`, ...).
impl FromStr for HashKind {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        Ok(match name {
            "ahash" => HashKind::AHash,
            "dhash" => HashKind::DHash,
            "dhash_vertical" => HashKind::DHashVertical,
            "phash" => HashKind::PHash,
            "phash_simple" => HashKind::PHashSimple,
            "whash" => HashKind::WHash,
            "pdq" => HashKind::Pdq(Dihedral::Original),
            other => {
                let variant = other.strip_prefix("pdq_").and_then(|v| {
                    Dihedral::ALL
                        .iter()
                        .copied()
                        .find(|d| dihedral_name(*d) == v)
                });
                match variant {
                    Some(d) => HashKind::Pdq(d),
                    None => {
                        return Err(Error::param(
                            "method",
                            format!(
                                "unknown hash {other:?}; expected ahash, dhash, dhash_vertical, \
                                 phash, phash_simple, whash, pdq or pdq_<rotate90|rotate180|\
                                 rotate270|flipx|flipy|flipplus1|flipminus1>"
                            ),
                        ))
                    }
                }
            }
        })
    }
}

/// The name [`FromStr`] takes back.
impl fmt::Display for HashKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashKind::AHash => f.write_str("ahash"),
            HashKind::DHash => f.write_str("dhash"),
            HashKind::DHashVertical => f.write_str("dhash_vertical"),
            HashKind::PHash => f.write_str("phash"),
            HashKind::PHashSimple => f.write_str("phash_simple"),
            HashKind::WHash => f.write_str("whash"),
            HashKind::Pdq(Dihedral::Original) => f.write_str("pdq"),
            HashKind::Pdq(d) => write!(f, "pdq_{}", dihedral_name(*d)),
        }
    }
}

fn dihedral_name(d: Dihedral) -> &'static str {
    match d {
        Dihedral::Original => "original",
        Dihedral::Rotate90 => "rotate90",
        Dihedral::Rotate180 => "rotate180",
        Dihedral::Rotate270 => "rotate270",
        Dihedral::FlipX => "flipx",
        Dihedral::FlipY => "flipy",
        Dihedral::FlipPlus1 => "flipplus1",
        Dihedral::FlipMinus1 => "flipminus1",
    }
}

/// Which front end turns decoded pixels into the planes the hashes read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Bit-identical to ImageHash 4.3 on Pillow 13 and to the PDQ reference (lossless formats).
    #[default]
    Compatible,
    /// Oriented, alpha composited onto mid-gray, 16-bit scaled, area-averaged.
    Canonical,
}

/// `canonical` or `compatible`.
impl FromStr for Mode {
    type Err = Error;

    fn from_str(mode: &str) -> Result<Self> {
        match mode {
            "canonical" => Ok(Mode::Canonical),
            "compatible" => Ok(Mode::Compatible),
            other => Err(Error::param(
                "mode",
                format!("expected 'canonical' or 'compatible', got {other:?}"),
            )),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Canonical => "canonical",
            Mode::Compatible => "compatible",
        })
    }
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
