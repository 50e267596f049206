//! datasketch 2.x compatibility. Both schemes hash a token to the little-endian u32 of the first
//! four bytes of its SHA-1 digest (`sha1_hash32`). Then, per slot:
//!
//! * legacy (all datasketch < 2.0 signatures): `((a · h + b) mod 2^64) mod (2^61 − 1) & 0xFFFFFFFF`.
//!   The wrap-around mod 2^64 is NumPy's uint64 overflow and is part of the scheme.
//! * affine32 (the 2.0 default): `(a · fmix32(h) + b) mod 2^32`.
//!
//! The parameters come from NumPy's legacy `RandomState(seed)`; they are drawn in Python.

use sha1::{Digest, Sha1};

/// The Mersenne prime 2^61 − 1 of the legacy scheme.
pub const MERSENNE61: u64 = (1 << 61) - 1;

#[inline]
fn sha1_hash32(token: &[u8]) -> u32 {
    let d = Sha1::digest(token);
    u32::from_le_bytes([d[0], d[1], d[2], d[3]])
}

/// The token hash of the legacy scheme.
#[inline]
pub fn legacy_token_hash(token: &[u8]) -> u32 {
    sha1_hash32(token)
}

/// MurmurHash3's 32-bit finalizer.
#[inline]
pub fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^ (h >> 16)
}

/// The token hash of the affine32 scheme (SHA-1, then fmix32).
#[inline]
pub fn affine32_token_hash(token: &[u8]) -> u32 {
    fmix32(sha1_hash32(token))
}
