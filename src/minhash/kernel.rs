//! The per-slot minimum loops: the hot path of every MinHash signature.
//!
//! Slots are processed in register-sized blocks with the token hashes in the inner loop, so the
//! running minima stay in registers. On x86-64 the same code is compiled a second time for AVX2
//! and chosen at run time; the results are identical, only faster.
//!
//! The affine kernel (native and datasketch-affine32 schemes) is all 32-bit lanes: per slot and
//! token one multiply, one add and one unsigned minimum, which AVX2 does for 8 slots at a time
//! (`vpmulld`, `vpaddd`, `vpminud`). A block of 32 slots keeps its minima in 4 registers.

use super::datasketch::MERSENNE61;

/// Slots per register block of the affine kernel.
const LANES: usize = 32;
/// Slots per block for the tail (`num_perm` not a multiple of `LANES`).
const TAIL_LANES: usize = 8;

#[inline(always)]
fn affine32_block<const L: usize>(m: &mut [u32], a: &[u32], b: &[u32], hashes: &[u32]) {
    let a: &[u32; L] = a.try_into().expect("exact chunk");
    let b: &[u32; L] = b.try_into().expect("exact chunk");
    let mut acc: [u32; L] = (&*m).try_into().expect("exact chunk");
    for &h in hashes {
        for j in 0..L {
            acc[j] = acc[j].min(a[j].wrapping_mul(h).wrapping_add(b[j]));
        }
    }
    m.copy_from_slice(&acc);
}

#[inline(always)]
fn affine32_generic(sig: &mut [u32], a: &[u32], b: &[u32], hashes: &[u32]) {
    let whole = sig.len() / LANES * LANES;
    let (head, tail) = sig.split_at_mut(whole);
    for ((m, a), b) in head
        .chunks_exact_mut(LANES)
        .zip(a.chunks_exact(LANES))
        .zip(b.chunks_exact(LANES))
    {
        affine32_block::<LANES>(m, a, b, hashes);
    }
    let (a, b) = (&a[whole..], &b[whole..]);
    let mid = tail.len() / TAIL_LANES * TAIL_LANES;
    let (tail_blocks, rest) = tail.split_at_mut(mid);
    for ((m, a), b) in tail_blocks
        .chunks_exact_mut(TAIL_LANES)
        .zip(a.chunks_exact(TAIL_LANES))
        .zip(b.chunks_exact(TAIL_LANES))
    {
        affine32_block::<TAIL_LANES>(m, a, b, hashes);
    }
    for ((m, &ai), &bi) in rest.iter_mut().zip(&a[mid..]).zip(&b[mid..]) {
        for &h in hashes {
            *m = (*m).min(ai.wrapping_mul(h).wrapping_add(bi));
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn affine32_avx2(sig: &mut [u32], a: &[u32], b: &[u32], hashes: &[u32]) {
    affine32_generic(sig, a, b, hashes)
}

/// `sig[i] = min(sig[i], min over h of (a[i]·h + b[i]) mod 2^32)`.
pub fn update_affine32(sig: &mut [u32], a: &[u32], b: &[u32], hashes: &[u32]) {
    debug_assert!(sig.len() == a.len() && a.len() == b.len());
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { affine32_avx2(sig, a, b, hashes) };
    }
    affine32_generic(sig, a, b, hashes)
}

/// `sig[i] = min(sig[i], min over h of ((a[i]·h + b[i]) mod 2^64) mod (2^61 − 1) mod 2^32)`.
pub fn update_legacy(sig: &mut [u32], a: &[u64], b: &[u64], hashes: &[u32]) {
    for ((m, &ai), &bi) in sig.iter_mut().zip(a).zip(b) {
        for &h in hashes {
            let v = (ai.wrapping_mul(h as u64).wrapping_add(bi) % MERSENNE61) as u32;
            *m = (*m).min(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(sig: &mut [u32], a: &[u32], b: &[u32], hashes: &[u32]) {
        for ((m, &ai), &bi) in sig.iter_mut().zip(a).zip(b) {
            for &h in hashes {
                *m = (*m).min(ai.wrapping_mul(h).wrapping_add(bi));
            }
        }
    }

    #[test]
    fn every_width_matches_the_scalar_definition() {
        // Widths that exercise the 32-lane blocks, the 8-lane tail and the scalar rest.
        let mut rng = super::super::SplitMix64::new(9);
        for k in [1, 7, 8, 9, 31, 32, 33, 45, 64, 128, 131] {
            let a: Vec<u32> = (0..k).map(|_| rng.next() as u32 | 1).collect();
            let b: Vec<u32> = (0..k).map(|_| rng.next() as u32).collect();
            let hashes: Vec<u32> = (0..100).map(|_| rng.next() as u32).collect();
            let mut got = vec![u32::MAX; k];
            update_affine32(&mut got, &a, &b, &hashes[..60]);
            update_affine32(&mut got, &a, &b, &hashes[60..]);
            let mut want = vec![u32::MAX; k];
            reference(&mut want, &a, &b, &hashes);
            assert_eq!(got, want, "k = {k}");
            let mut generic = vec![u32::MAX; k];
            affine32_generic(&mut generic, &a, &b, &hashes);
            assert_eq!(generic, want, "k = {k}");
        }
    }
}
