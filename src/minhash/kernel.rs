//! The per-slot minimum loops: the hot path of every MinHash signature.
//!
//! Slots are processed in register-sized blocks with the token hashes in the inner loop, so the
//! running minima stay in registers. On x86-64 the same code is compiled a second time for AVX2
//! and chosen at run time; the results are identical, only faster.

use super::datasketch::MERSENNE61;

const LANES: usize = 16;

#[inline(always)]
fn native_generic(acc: &mut [u64], a: &[u64], b: &[u64], hashes: &[u64]) {
    let mut ac = acc.chunks_exact_mut(LANES);
    let mut achunks = a.chunks_exact(LANES);
    let mut bchunks = b.chunks_exact(LANES);
    for ((acc_blk, a_blk), b_blk) in (&mut ac).zip(&mut achunks).zip(&mut bchunks) {
        let a_blk: &[u64; LANES] = a_blk.try_into().expect("exact chunk");
        let b_blk: &[u64; LANES] = b_blk.try_into().expect("exact chunk");
        let mut m: [u64; LANES] = acc_blk.try_into().expect("exact chunk");
        for &h in hashes {
            for j in 0..LANES {
                m[j] = m[j].min(a_blk[j].wrapping_mul(h).wrapping_add(b_blk[j]));
            }
        }
        acc_blk.copy_from_slice(&m);
    }
    for ((m, &ai), &bi) in ac
        .into_remainder()
        .iter_mut()
        .zip(achunks.remainder())
        .zip(bchunks.remainder())
    {
        for &h in hashes {
            *m = (*m).min(ai.wrapping_mul(h).wrapping_add(bi));
        }
    }
}

#[inline(always)]
fn affine32_generic(acc: &mut [u64], a: &[u64], b: &[u64], hashes: &[u64]) {
    // Values are u32; the arithmetic is mod 2^32.
    for ((m, &ai), &bi) in acc.iter_mut().zip(a).zip(b) {
        let (ai, bi) = (ai as u32, bi as u32);
        let mut cur = (*m).min(u32::MAX as u64) as u32;
        for &h in hashes {
            cur = cur.min(ai.wrapping_mul(h as u32).wrapping_add(bi));
        }
        // A slot no token touched keeps u64::MAX so `finish` maps it to 2^32 − 1 either way.
        if !hashes.is_empty() || *m != u64::MAX {
            *m = cur as u64;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn native_avx2(acc: &mut [u64], a: &[u64], b: &[u64], hashes: &[u64]) {
    native_generic(acc, a, b, hashes)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn affine32_avx2(acc: &mut [u64], a: &[u64], b: &[u64], hashes: &[u64]) {
    affine32_generic(acc, a, b, hashes)
}

pub fn update_native(acc: &mut [u64], a: &[u64], b: &[u64], hashes: &[u64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { native_avx2(acc, a, b, hashes) };
    }
    native_generic(acc, a, b, hashes)
}

pub fn update_affine32(acc: &mut [u64], a: &[u64], b: &[u64], hashes: &[u64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { affine32_avx2(acc, a, b, hashes) };
    }
    affine32_generic(acc, a, b, hashes)
}

pub fn update_legacy(acc: &mut [u64], a: &[u64], b: &[u64], hashes: &[u64]) {
    for ((m, &ai), &bi) in acc.iter_mut().zip(a).zip(b) {
        for &h in hashes {
            let v = (ai.wrapping_mul(h).wrapping_add(bi) % MERSENNE61) & 0xFFFF_FFFF;
            *m = (*m).min(v);
        }
    }
}
